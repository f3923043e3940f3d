import { type Channel } from 'amqplib';
import request from 'supertest';
import { type CloudEvent, exchanges, userEventTypes } from '@meetmatt/contracts';
import { eventually } from '@meetmatt/infra/testing';
import { type RegisteredUser, type UserWorld, registerUser, startWorld } from '../support/world';

const billing = {
  name: 'Ассистент 日本 Zoë SARL',
  addressLines: ['12 rue de l’Exemple', '75002 Paris'],
  country: 'FR',
  taxId: 'FR12345678901',
};

describe('billing details in the profile', () => {
  let world: UserWorld;
  let channel: Channel;
  const published: CloudEvent[] = [];

  beforeAll(async () => {
    world = await startWorld('user_billing');
    channel = await (await world.broker()).createChannel();
    await channel.assertExchange(exchanges.user, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, exchanges.user, userEventTypes.billingDetailsChanged);
    await channel.consume(
      queue,
      (m) => m && published.push(JSON.parse(m.content.toString('utf8')) as CloudEvent),
      { noAck: true },
    );
  });

  afterAll(async () => {
    await world?.stop();
  });

  const getUser = (user: RegisteredUser) =>
    request(world.url).get(`/users/${user.userId}`).set('Authorization', user.authorization);
  const put = (user: RegisteredUser, etag: string | undefined, body: unknown) => {
    const req = request(world.url)
      .put(`/users/${user.userId}`)
      .set('Authorization', user.authorization);
    return (etag === undefined ? req : req.set('If-Match', etag)).send(body as object);
  };

  test('when a new user reads their profile, then billing is null', async () => {
    const user = await registerUser(world.url);
    expect((await getUser(user).expect(200)).body.billing).toBeNull();
  });

  test('when billing details are given with the current ETag, then 200 with them, a new ETag, the profile read shows them and the event is published', async () => {
    const user = await registerUser(world.url);
    const res = await put(user, '"0"', { billing: { ...billing, name: `  ${billing.name} ` } });
    expect(res.status).toBe(200);
    expect(res.body.billing).toEqual(billing);
    expect(res.headers.etag).toBe('"1"');
    const read = await getUser(user).expect(200);
    expect(read.body).toMatchObject({ id: user.userId, email: user.email, billing });
    expect(read.headers.etag).toBe('"1"');
    const event = await eventually(
      'the billing event on the bus',
      () => published.find((e) => e.subject === `user-${user.userId}`) ?? false,
    );
    // The payment service learns the details, not the email.
    expect(event.data).toEqual({ userId: user.userId, billing, changedAt: expect.any(String) });
  });

  test('when the same details are sent again, then 200 and the ETag does not move; null removes them', async () => {
    const user = await registerUser(world.url);
    await put(user, '"0"', { billing }).expect(200);
    const again = await put(user, '"1"', { billing }).expect(200);
    expect(again.headers.etag).toBe('"1"');
    const removed = await put(user, '"1"', { billing: null }).expect(200);
    expect(removed.body.billing).toBeNull();
    expect(removed.headers.etag).toBe('"2"');
    expect((await getUser(user)).body.billing).toBeNull();
  });

  test('when If-Match is missing or stale, then 428 or 412 and the details are not recorded', async () => {
    const user = await registerUser(world.url);
    expect((await put(user, undefined, { billing })).status).toBe(428);
    await put(user, '"0"', { displayName: 'Renamed' }).expect(200);
    expect((await put(user, '"0"', { billing })).status).toBe(412);
    expect((await getUser(user)).body.billing).toBeNull();
  });

  test.each([
    ['billing.country', { ...billing, country: 'XX' }],
    ['billing.country', { ...billing, country: 'fr' }],
    ['billing.addressLines', { ...billing, addressLines: [] }],
    ['billing.addressLines.0', { ...billing, addressLines: ['line\u0000'] }],
    ['billing.name', { ...billing, name: ' ' }],
    ['billing.taxId', { ...billing, taxId: 'FR<script>' }],
    ['billing.taxId', { name: billing.name, addressLines: billing.addressLines, country: 'FR' }],
  ])('when %s is invalid, then 400 problem+json naming it', async (field, details) => {
    const user = await registerUser(world.url);
    const res = await put(user, '"0"', { billing: details });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect((res.body.errors as { field: string }[]).map((e) => e.field)).toContain(field);
    expect((await getUser(user)).headers.etag).toBe('"0"');
  });
});
