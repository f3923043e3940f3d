import { eventually } from '@meetmatt/infra/testing';
import { type ChannelModel } from 'amqplib';
import request from 'supertest';
import { exchanges, queues } from '@meetmatt/contracts';
import { upstreamEvents } from '../support/upstream-events';
import {
  type RegisteredUser,
  type UserWorld,
  publishCloudEvent,
  registerUser,
  startWorld,
  fromGateway,
  grantAdmin,
} from '../support/world';

describe('usage', () => {
  let world: UserWorld;
  let broker: ChannelModel;
  let admin: RegisteredUser;

  beforeAll(async () => {
    world = await startWorld('user_usage');
    broker = await world.broker();
    admin = await grantAdmin(world.service, await registerUser(world.url));
    await eventually('the service to be ready', () =>
      request(world.url).get('/readyz').expect(200),
    );
  });

  afterAll(async () => {
    await world?.stop();
  });

  const usage = (user: RegisteredUser, query = '', as = user) =>
    request(world.url)
      .get(`/users/${user.userId}/usage${query}`)
      .set('Authorization', as.authorization);

  const today = () => new Date().toISOString().slice(0, 10);

  test('when requests pass /auth/verify with a token or an API key, then they count as API requests of the day', async () => {
    const user = await registerUser(world.url);
    const { body: key } = await request(world.url)
      .post(`/users/${user.userId}/api-keys`)
      .set('Authorization', user.authorization)
      .send({ name: 'usage' })
      .expect(201);
    for (let i = 0; i < 3; i++)
      await request(world.url)
        .get('/auth/verify')
        .set(fromGateway)
        .set('Authorization', user.authorization)
        .expect(200);
    for (let i = 0; i < 2; i++)
      await request(world.url)
        .get('/auth/verify')
        .set(fromGateway)
        .set('X-Api-Key', key.key)
        .expect(200);
    await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('Authorization', 'Bearer nope')
      .expect(401);
    const res = await usage(user).expect(200);
    expect(res.body.apiRequests).toEqual({ total: 5, byDay: [{ day: today(), count: 5 }] });
    expect(res.body.to).toBe(today());
    expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(29 * 86_400_000);
  });

  test('when another instance counts requests, then they show here after its flush', async () => {
    const user = await registerUser(world.url);
    const other = await world.startAnother();
    for (let i = 0; i < 4; i++)
      await request(other.url)
        .get('/auth/verify')
        .set(fromGateway)
        .set('Authorization', user.authorization)
        .expect(200);
    await eventually('four API requests counted', async () => {
      const res = await usage(user).expect(200);
      expect(res.body.apiRequests.total).toBe(4);
    });
    // it would take messages from the shared queues too
    await other.stop();
  });

  test('when payment and agent events arrive from the bus, then they are counted once each', async () => {
    const user = await registerUser(world.url);
    const events = [
      [exchanges.payment, upstreamEvents.paymentCreated(user.userId)],
      [
        exchanges.payment,
        upstreamEvents.paymentCreated(user.userId, { priceCurrency: 'eur', priceAmount: 20 }),
      ],
      [exchanges.payment, upstreamEvents.paymentConfirmed(user.userId)],
      [
        exchanges.payment,
        upstreamEvents.paymentConfirmed(user.userId, { priceCurrency: 'eur', priceAmount: 20.5 }),
      ],
      [exchanges.payment, upstreamEvents.paymentExpired(user.userId)],
      [exchanges.brain, upstreamEvents.agentDeployed(user.userId)],
      [exchanges.brain, upstreamEvents.agentDeployFailed(user.userId, false)],
      [exchanges.brain, upstreamEvents.agentDeployFailed(user.userId, true)],
      [exchanges.brain, upstreamEvents.agentRebuildRequested(user.userId)],
    ] as const;
    const published = [];
    for (const [exchange, event] of events)
      published.push(await publishCloudEvent(broker, exchange, event));
    // one delivered twice
    await publishCloudEvent(broker, exchanges.payment, { ...events[2][1], id: published[2]!.id });
    const expected = {
      payments: {
        count: 2,
        confirmed: 2,
        failed: 1,
        amountByCurrency: [
          { currency: 'eur', amount: 20.5 },
          { currency: 'usd', amount: 49 },
        ],
      },
      agents: { deployed: 1, failed: 1, rebuilds: 1 },
    };
    await eventually('the usage to read as expected', async () => {
      const res = await usage(user).expect(200);
      expect(res.body).toMatchObject(expected);
    });
    // the duplicate has been through the handler (the inbox said so) and changed nothing
    await eventually('the duplicate to be counted in the metrics', async () => {
      const metrics = (await request(world.url).get('/metrics').expect(200)).text;
      expect(metrics).toMatch(
        new RegExp(
          `bus_consumed_total\\{[^}]*queue="${queues.userPaymentEvents}"[^}]*outcome="duplicate"[^}]*\\} 1`,
        ),
      );
    });
    expect((await usage(user).expect(200)).body).toMatchObject(expected);
  });

  test('when the period excludes the day, then nothing is counted', async () => {
    const user = await registerUser(world.url);
    await request(world.url)
      .get('/auth/verify')
      .set(fromGateway)
      .set('Authorization', user.authorization)
      .expect(200);
    const res = await usage(user, '?from=2020-01-01&to=2020-01-31').expect(200);
    expect(res.body).toMatchObject({
      from: '2020-01-01',
      to: '2020-01-31',
      apiRequests: { total: 0, byDay: [] },
      payments: { count: 0, confirmed: 0, failed: 0, amountByCurrency: [] },
      agents: { deployed: 0, failed: 0, rebuilds: 0 },
    });
  });

  test.each([
    ['?from=yesterday', 'from'],
    ['?to=2026-13-01', 'to'],
    ['?from=2026-02-01&to=2026-01-01', 'to'],
    ['?from=2024-01-01&to=2026-01-01', 'to'],
  ])('when the query is %s, then 400 naming %s', async (query, field) => {
    const user = await registerUser(world.url);
    const res = await usage(user, query);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ field, in: 'query' })]),
    );
  });

  test('when only from is given and it is after today, then 400 naming from; only to gives the 30 days up to it', async () => {
    const user = await registerUser(world.url);
    const res = await usage(user, '?from=2999-01-01');
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'from', in: 'query' });
    const ok = await usage(user, '?to=2020-01-30').expect(200);
    expect(ok.body).toMatchObject({ from: '2020-01-01', to: '2020-01-30' });
  });

  test('when another user asks, then 404; an admin may read it', async () => {
    const user = await registerUser(world.url);
    const other = await registerUser(world.url);
    await usage(user, '', other).expect(404);
    await usage(user, '', admin).expect(200);
  });
});
