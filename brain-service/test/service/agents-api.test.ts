import { randomUUID } from 'node:crypto';
import { type CloudEvent, agentEvents } from '@meetmatt/contracts';
import {
  type BrainWorld,
  agentWhen,
  confirmedPayment,
  publishConfirmed,
  sessionsOf,
  startWorld,
} from '../support/harness';
import { eventually } from '@meetmatt/infra/testing';

describe('the agents API', () => {
  let world: BrainWorld;

  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  test('when another user asks for an agent, then it is a 404 on every door, and it is missing from their list', async () => {
    const owner = await world.issuer.user();
    const stranger = await world.issuer.user();
    const agentId = await publishConfirmed(world, confirmedPayment(owner));
    await agentWhen(world, owner, agentId, 'deployed', (a) => a.status === 'deployed');
    const sessionsBefore = sessionsOf(world, agentId).length;

    const as = (path: string) => world.api().get(path).set('Authorization', stranger.authorization);
    for (const path of [
      `/agents/${agentId}`,
      `/agents/${agentId}/status`,
      `/agents/${agentId}/logs`,
    ]) {
      const res = await as(path);
      expect([path, res.status, res.headers['content-type']]).toEqual([
        path,
        404,
        expect.stringMatching(/problem\+json/),
      ]);
    }
    const rebuild = await world
      .api()
      .post(`/agents/${agentId}/rebuild`)
      .set('Authorization', stranger.authorization)
      .send({ instructions: 'Do something else entirely.' });
    expect(rebuild.status).toBe(404);
    // the stranger's 404 is the same as for an agent that does not exist
    const missing = await as(`/agents/${randomUUID()}`);
    expect(rebuild.body.detail).toBe(missing.body.detail);
    const list = await as('/agents');
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);

    // nothing was rebuilt
    expect(sessionsOf(world, agentId)).toHaveLength(sessionsBefore);
    expect(world.bus.of(agentId).map((e) => e.type)).not.toContain(
      agentEvents.rebuildRequested.type,
    );
  });

  test('when an operator lists agents, then they see everyone’s, and may read any agent', async () => {
    const [alice, bob, admin] = await Promise.all([
      world.issuer.user(),
      world.issuer.user(),
      world.issuer.admin(),
    ]);
    const aliceAgent = await publishConfirmed(world, confirmedPayment(alice));
    const bobAgent = await publishConfirmed(world, confirmedPayment(bob));
    await agentWhen(world, alice, aliceAgent, 'alice’s agent', () => true);
    await agentWhen(world, bob, bobAgent, 'bob’s agent', () => true);

    const list = await world
      .api()
      .get('/agents')
      .query({ limit: 100 })
      .set('Authorization', admin.authorization);
    const ids = (list.body.items as { id: string }[]).map((a) => a.id);
    expect(ids).toEqual(expect.arrayContaining([aliceAgent, bobAgent]));
    const read = await world
      .api()
      .get(`/agents/${bobAgent}`)
      .set('Authorization', admin.authorization);
    expect(read.status).toBe(200);
    expect(read.body.userId).toBe(bob.userId);
  });

  test('when a user pages through their agents, then each page is newest first and the cursor leads to the rest', async () => {
    const user = await world.issuer.user();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const agentId = await publishConfirmed(world, confirmedPayment(user));
      await agentWhen(world, user, agentId, `agent ${i}`, () => true);
      ids.push(agentId);
    }

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } =
        await world
          .api()
          .get('/agents')
          .query({ limit: 2, ...(cursor ? { cursor } : {}) })
          .set('Authorization', user.authorization);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((a) => a.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    const bad = await world
      .api()
      .get('/agents')
      .query({ cursor: 'not-a-cursor' })
      .set('Authorization', user.authorization);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('cursor');
  });

  test('when a user rebuilds their agent, then 409 while it builds, and once deployed a new build runs in a fresh session', async () => {
    const user = await world.issuer.user();
    const agentId = await publishConfirmed(
      world,
      // The session works until the test finishes it: "while it builds" holds however slow the machine.
      confirmedPayment(user, { agent: { instructions: 'Take your time [devin:never]' } }),
    );
    /** Finishes the build's newest session, as Devin would with its pull request. */
    const finishSession = async (count: number) => {
      const session = await eventually(`session ${count} started`, () => {
        const started = sessionsOf(world, agentId);
        expect(started).toHaveLength(count);
        return started[count - 1]!;
      });
      world.sandbox.forceStatus(session.session_id, { status_enum: 'finished' });
    };
    const rebuild = (instructions?: string) =>
      world
        .api()
        .post(`/agents/${agentId}/rebuild`)
        .set('Authorization', user.authorization)
        .send(instructions ? { instructions } : {});

    await agentWhen(world, user, agentId, 'building', (a) => a.status === 'building');
    const early = await rebuild();
    expect(early.status).toBe(409);
    expect(early.body.type).toMatch(/build-in-progress$/);

    await finishSession(1);
    await agentWhen(world, user, agentId, 'deployed', (a) => a.status === 'deployed');
    const accepted = await rebuild('Now also speak French.');
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ id: agentId, status: 'building', build: 2 });
    await finishSession(2);

    const deployedTwice = (e: CloudEvent) =>
      e.type === agentEvents.deployed.type && (e.data as { build: number }).build === 2;
    await world.bus.waitFor(
      'the second deploy',
      (e) => e.subject === `agent-${agentId}` && deployedTwice(e),
    );
    const types = world.bus.of(agentId).map((e) => e.type);
    expect(types.filter((t) => t === agentEvents.rebuildRequested.type)).toHaveLength(1);
    expect(types.filter((t) => t === agentEvents.sessionStarted.type)).toHaveLength(2);
    const sessions = sessionsOf(world, agentId);
    expect(sessions).toHaveLength(2);
    expect(sessions[1]!.tags).toEqual(expect.arrayContaining(['build:2', 'attempt:1']));
    expect(sessions[1]!.prompt).toContain('Now also speak French.');

    const agent = await agentWhen(
      world,
      user,
      agentId,
      'build 2 deployed',
      (a) => a.build === 2 && a.status === 'deployed',
    );
    expect(agent.instructions).toBe('Now also speak French.');
    expect(agent.pullRequestUrl).toMatch(/\/pull\/2$/);
    expect(agent.sessionUrl).toBe(sessions[1]!.url);
  });

  test('when the agents read model is rebuilt from the events, then every agent reads the same', async () => {
    const user = await world.issuer.user();
    const agentId = await publishConfirmed(
      world,
      confirmedPayment(user, { agent: { instructions: 'Ask first [devin:block]' } }),
    );
    await agentWhen(world, user, agentId, 'deployed', (a) => a.status === 'deployed');
    const read = async () => {
      const [detail, logs] = await Promise.all([
        world.api().get(`/agents/${agentId}`).set('Authorization', user.authorization),
        world
          .api()
          .get(`/agents/${agentId}/logs`)
          .query({ limit: 500 })
          .set('Authorization', user.authorization),
      ]);
      return { detail: detail.body as unknown, logs: logs.body as unknown };
    };
    const before = await read();

    const result = await world.service.host.projections!.rebuild('agents');

    expect(result.eventsDone).toBeGreaterThan(0);
    expect(await read()).toEqual(before);
  });

  test('when a request has no valid token, then 401', async () => {
    const anonymous = await world.api().get('/agents');
    expect(anonymous.status).toBe(401);
    const expired = await world.issuer.user({ expiresIn: '-1m' });
    const res = await world.api().get('/agents').set('Authorization', expired.authorization);
    expect(res.status).toBe(401);
  });

  test('when asked, then the OpenAPI document lists the agents endpoints', async () => {
    const res = await world.api().get('/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/agents/deploy',
        '/agents',
        '/agents/{id}',
        '/agents/{id}/status',
        '/agents/{id}/logs',
        '/agents/{id}/rebuild',
      ]),
    );
  });
});
