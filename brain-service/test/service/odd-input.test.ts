import { randomUUID } from 'node:crypto';
import { agentEvents } from '@meetmatt/contracts';
import {
  type BrainWorld,
  agentWhen,
  confirmedPayment,
  consumed,
  publishConfirmed,
  sessionsOf,
  startWorld,
} from '../support/harness';

/** A client's mistake is a 400 naming what was wrong, never a 5xx, and it changes nothing. */
describe('odd input to the agents API', () => {
  let world: BrainWorld;

  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  const streamOf = (agentId: string) =>
    world.service.host.eventStore.readStream(`agent-${agentId}`);

  function expectBadRequest(
    res: { status: number; headers: Record<string, string>; body: { errors?: unknown } },
    field: string,
    what: string,
  ): void {
    expect([what, res.status, res.headers['content-type']]).toEqual([
      what,
      400,
      expect.stringMatching(/application\/problem\+json/),
    ]);
    const fields = ((res.body.errors ?? []) as { field: string }[]).map((e) => e.field);
    expect([what, fields]).toEqual([what, expect.arrayContaining([field])]);
  }

  test('when the logs are asked after or for an out-of-range or malformed number, then 400 naming the parameter', async () => {
    const user = await world.issuer.user();
    const agentId = await publishConfirmed(world, confirmedPayment(user));
    await agentWhen(world, user, agentId, 'deployed', (a) => a.status === 'deployed');
    const logs = (query: Record<string, string>) =>
      world
        .api()
        .get(`/agents/${agentId}/logs`)
        .query(query)
        .set('Authorization', user.authorization);

    for (const after of [
      '3000000000',
      '2147483648',
      '1e400',
      '-1',
      'abc',
      '1.5',
      '9'.repeat(400),
    ]) {
      expectBadRequest(await logs({ after }), 'after', `after=${after}`);
    }
    for (const limit of ['0', '501', '3000000000', 'NaN']) {
      expectBadRequest(await logs({ limit }), 'limit', `limit=${limit}`);
    }
    const last = await logs({ after: '2147483647' });
    expect(last.status).toBe(200);
    expect(last.body.lines).toEqual([]);
  });

  test('when the agents list is given a cursor that holds no page of ours, then 400 naming cursor', async () => {
    const user = await world.issuer.user();
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const cursor of [
      encode(['0000-01-01T00:00:00Z', randomUUID()]),
      encode(['-200000-01-01T00:00:00Z', randomUUID()]),
      encode(['+275760-09-13T00:00:00Z', randomUUID()]),
      encode(['2026-01-01T00:00:00Z', 'not-a-uuid']),
      encode({ __proto__: { polluted: true } }),
      'x'.repeat(200),
      '\u0000',
    ]) {
      const res = await world
        .api()
        .get('/agents')
        .query({ cursor })
        .set('Authorization', user.authorization);
      expectBadRequest(res, 'cursor', `cursor ${cursor}`);
    }
  });

  test('when an id in the path is not a UUID, then 400 or 404 on every door, never 5xx', async () => {
    const user = await world.issuer.user();
    for (const id of ['not-a-uuid', '%00', '1', 'a'.repeat(300), '..%2F..%2Fagents']) {
      for (const [method, path] of [
        ['get', `/agents/${id}`],
        ['get', `/agents/${id}/status`],
        ['get', `/agents/${id}/logs`],
        ['post', `/agents/${id}/rebuild`],
      ] as const) {
        const api = world.api();
        const call = method === 'post' ? api.post(path).send({}) : api.get(path);
        const res = await call.set('Authorization', user.authorization);
        expect([path, [400, 404].includes(res.status)]).toEqual([path, true]);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }
    }
  });

  test('when a deploy names the agent with a NUL byte, then 400 naming name, and nothing is recorded', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, { autoDeploy: false });
    let agentId = '';
    await consumed(world, 1, async () => (agentId = await publishConfirmed(world, payment)));

    for (const [field, body] of [
      ['name', { name: 'Bad\u0000bot' }],
      ['instructions', { instructions: 'Do it\u0000now' }],
    ] as const) {
      const res = await world
        .api()
        .post('/agents/deploy')
        .set('Authorization', user.authorization)
        .send({ paymentId: payment.paymentId, ...body });
      expectBadRequest(res, field, `deploy ${field}`);
    }
    expect(await streamOf(agentId)).toEqual([]);
    expect(sessionsOf(world, agentId)).toHaveLength(0);
  });

  test('when a rebuild brings instructions with a NUL byte, then 400 naming instructions, and nothing is recorded', async () => {
    const user = await world.issuer.user();
    const agentId = await publishConfirmed(world, confirmedPayment(user));
    await agentWhen(world, user, agentId, 'deployed', (a) => a.status === 'deployed');
    const before = await streamOf(agentId);

    const res = await world
      .api()
      .post(`/agents/${agentId}/rebuild`)
      .set('Authorization', user.authorization)
      .send({ instructions: 'Speak French\u0000 too.' });

    expectBadRequest(res, 'instructions', 'rebuild instructions');
    const after = await streamOf(agentId);
    expect(after).toHaveLength(before.length);
    expect(after.map((e) => e.type)).not.toContain(agentEvents.rebuildRequested.type);
    expect(sessionsOf(world, agentId)).toHaveLength(1);
  });
});
