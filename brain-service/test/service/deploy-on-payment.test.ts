import { randomUUID } from 'node:crypto';
import { agentEvents, paymentEvents } from '@meetmatt/contracts';
import { agentIdFor } from '../../src/domain/agent-identity';
import {
  type BrainWorld,
  agentWhen,
  confirmedPayment,
  consumed,
  publishConfirmed,
  sessionsOf,
  startWorld,
} from '../support/harness';

describe('deploying on payment', () => {
  let world: BrainWorld;

  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  test('when one payment.confirmed message is delivered five times, then one agent, one Devin session and one deploy request', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user);

    const agentId = await publishConfirmed(world, payment, { copies: 5 });

    await world.bus.waitFor(
      'agent.deployed',
      (e) => e.type === agentEvents.deployed.type && e.subject === `agent-${agentId}`,
    );
    const detail = await agentWhen(
      world,
      user,
      agentId,
      'deployed',
      (a) => a.status === 'deployed',
    );
    const list = await world.api().get('/agents').set('Authorization', user.authorization);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({
      id: agentId,
      paymentId: payment.paymentId,
      userId: user.userId,
      name: payment.agent.name,
      status: 'deployed',
    });
    expect(sessionsOf(world, agentId)).toHaveLength(1);
    const creates = world.sandbox
      .calls()
      .filter((c) => c.method === 'POST' && c.path === '/v1/sessions')
      .filter((c) => JSON.stringify(c.body).includes(agentId));
    expect(creates).toHaveLength(1);
    const published = world.bus.of(agentId).map((e) => e.type);
    expect(published.filter((t) => t === agentEvents.deployRequested.type)).toHaveLength(1);
    expect(published.filter((t) => t === agentEvents.sessionStarted.type)).toHaveLength(1);
    expect(detail.history.filter((h) => h.type === agentEvents.deployRequested.type)).toHaveLength(
      1,
    );
  });

  test('when the same payment is confirmed again under another message id, then the agent stream refuses a second deploy', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, {
      agent: { instructions: 'Slow one [devin:finish:20]' },
    });
    const agentId = agentIdFor(payment.paymentId);

    await world.bus.publishPayment(paymentEvents.confirmed.type, { ...payment });
    await world.bus.publishPayment(paymentEvents.confirmed.type, { ...payment });

    await world.bus.waitFor(
      'the deploy request',
      (e) => e.type === agentEvents.deployRequested.type && e.subject === `agent-${agentId}`,
    );
    await agentWhen(world, user, agentId, 'the build to finish', (a) => a.status === 'deployed');
    expect(
      world.bus.of(agentId).filter((e) => e.type === agentEvents.deployRequested.type),
    ).toHaveLength(1);
    expect(sessionsOf(world, agentId)).toHaveLength(1);
  });

  test('when a payment was bought with autoDeploy false, then nothing is built until the user deploys it, with their overrides', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, { autoDeploy: false, maxAcuLimit: 33 });
    let agentId = '';
    await consumed(world, 1, async () => (agentId = await publishConfirmed(world, payment)));
    expect(sessionsOf(world, agentId)).toHaveLength(0);

    const deploy = () =>
      world.api().post('/agents/deploy').set('Authorization', user.authorization).send({
        paymentId: payment.paymentId,
        name: 'Renamed bot',
      });
    const repository = `meetmatt-agents/renamed-bot-${agentId.replace(/-/g, '').slice(0, 8)}`;
    const created = await deploy();

    expect(created.status).toBe(202);
    expect(created.headers.location).toBe(`/agents/${agentId}`);
    expect(created.body).toEqual({
      id: agentId,
      status: 'requested',
      paymentId: payment.paymentId,
      name: 'Renamed bot',
      repository,
      createdAt: expect.any(String),
    });
    // read-your-writes: the agent is readable at once
    const read = await world
      .api()
      .get(`/agents/${agentId}`)
      .set('Authorization', user.authorization);
    expect([read.status, read.body]).toEqual([200, expect.anything()]);
    expect(read.body.history[0].detail).toMatch(/by the user/);

    const again = await deploy();
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: agentId, name: 'Renamed bot' });

    const deployed = await agentWhen(
      world,
      user,
      agentId,
      'deployed',
      (a) => a.status === 'deployed',
    );
    expect(deployed.pullRequestUrl).toMatch(
      new RegExp(`^https://github\\.com/${repository}/pull/\\d+$`),
    );
    const [session] = sessionsOf(world, agentId);
    expect(session?.prompt).toContain(`Repository: ${repository}`);
    // the budget the payment carried, not the configured one for the plan
    expect(session?.max_acu_limit).toBe(33);
  });

  test('when a payment of the caller is known but not confirmed, then 402; never heard of or another user’s, then 404', async () => {
    const owner = await world.issuer.user();
    const stranger = await world.issuer.user();
    const pending = confirmedPayment(owner);
    await consumed(world, 1, () =>
      world.bus.publishPayment(paymentEvents.created.type, {
        paymentId: pending.paymentId,
        userId: owner.userId,
        plan: 'starter',
        priceAmount: 49,
        priceCurrency: 'usd',
        payCurrency: 'btc',
        payAmount: 0.0012,
        payAddress: 'bc1qexampleaddress',
        payinExtraId: null,
        providerPaymentId: '5077125051',
        expiresAt: null,
        agent: pending.agent,
        autoDeploy: true,
        createdAt: new Date().toISOString(),
      }),
    );
    const deploy = (user: typeof owner, paymentId: string) =>
      world
        .api()
        .post('/agents/deploy')
        .set('Authorization', user.authorization)
        .send({ paymentId });

    const unpaid = await deploy(owner, pending.paymentId);
    expect(unpaid.status).toBe(402);
    expect(unpaid.headers['content-type']).toMatch(/problem\+json/);
    expect(unpaid.body.detail).toMatch(/pending/);

    expect((await deploy(stranger, pending.paymentId)).status).toBe(404);
    expect((await deploy(owner, randomUUID())).status).toBe(404);
    const noAgent = await world
      .api()
      .get(`/agents/${agentIdFor(pending.paymentId)}`)
      .set('Authorization', owner.authorization);
    expect(noAgent.status).toBe(404);
  });

  test('when a confirmed payment was refunded before anyone deployed it, then deploying it is 402', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, { autoDeploy: false });
    // The refund arrives first: a late confirmation must not make the payment paid again.
    await consumed(world, 2, async () => {
      await world.bus.publishPayment(paymentEvents.refunded.type, {
        paymentId: payment.paymentId,
        userId: user.userId,
        at: new Date().toISOString(),
      });
      await publishConfirmed(world, payment);
    });

    const res = await world
      .api()
      .post('/agents/deploy')
      .set('Authorization', user.authorization)
      .send({ paymentId: payment.paymentId });
    expect(res.status).toBe(402);
    expect(res.body.detail).toMatch(/refunded/);
  });

  test('when the body is invalid or the caller has no token, then 400 naming the field, or 401', async () => {
    const user = await world.issuer.user();
    const bad = await world
      .api()
      .post('/agents/deploy')
      .set('Authorization', user.authorization)
      .send({ paymentId: 'not-a-uuid', name: 'x'.repeat(81) });
    expect(bad.status).toBe(400);
    const errors = bad.body.errors as { field: string }[];
    expect(errors.map((e) => e.field).sort()).toEqual(['name', 'paymentId']);
    const anonymous = await world.api().post('/agents/deploy').send({ paymentId: randomUUID() });
    expect(anonymous.status).toBe(401);
  });
});
