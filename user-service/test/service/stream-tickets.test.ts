import { eventually } from '@meetmatt/infra/testing';
import { type ChannelModel } from 'amqplib';
import request from 'supertest';
import { type StreamTicketIssued, exchanges } from '@meetmatt/contracts';
import { StreamTickets } from '../../src/application/stream-tickets';
import { upstreamEvents } from '../support/upstream-events';
import { type SseClient, openStream } from '../support/sse';
import {
  type RegisteredUser,
  type UserWorld,
  publishCloudEvent,
  registerUser,
  startWorld,
} from '../support/world';

/** EventSource cannot send Authorization: a single-use ticket opens the stream instead. */
describe('notification stream tickets (GET /notifications/stream?ticket=)', () => {
  let world: UserWorld;
  let broker: ChannelModel;
  const open: SseClient[] = [];

  beforeAll(async () => {
    // A cap of two streams per user, to see the ticket streams share it.
    world = await startWorld('user_ticket', { NOTIFICATION_STREAMS_PER_USER: '2' });
    broker = await world.broker();
    await eventually('the service to be ready', () =>
      request(world.url).get('/readyz').expect(200),
    );
  });

  afterEach(() => {
    for (const stream of open.splice(0)) stream.close();
  });

  afterAll(async () => {
    await world?.stop();
  });

  const ticketFor = async (user: RegisteredUser, url = world.url): Promise<StreamTicketIssued> => {
    const res = await request(url)
      .post('/notifications/stream-ticket')
      .set('Authorization', user.authorization)
      .expect(201);
    expect(res.headers['cache-control']).toBe('no-store');
    return res.body as StreamTicketIssued;
  };

  /** Opens a stream the way a browser's EventSource would: no Authorization header. */
  const openWith = async (path: string, headers: Record<string, string> = {}, url = world.url) => {
    const stream = await openStream(`${url}${path}`, headers);
    open.push(stream);
    return stream;
  };

  const problem = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(world.url).get(path).set(headers);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    return res;
  };

  test('when a signed-in user asks for a ticket, then it opens their stream without a token, and notifications arrive on it', async () => {
    const user = await registerUser(world.url);
    const before = Date.now();
    const issued = await ticketFor(user);
    expect(issued.ticket).toMatch(/^st_[A-Za-z0-9_-]{43}$/);
    expect(issued.url).toBe(`/notifications/stream?ticket=${issued.ticket}`);
    const ttl = Date.parse(issued.expiresAt) - before;
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(61_000);

    const stream = await openWith(issued.url);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    await publishCloudEvent(
      broker,
      exchanges.payment,
      upstreamEvents.paymentConfirmed(user.userId),
    );
    await eventually('one event on the stream', () => expect(stream.events).toHaveLength(1));
    expect(JSON.parse(stream.events[0]!.data)).toMatchObject({ kind: 'payment.confirmed' });
    // the ticket is in no log line, though the request that used it is logged
    expect(world.logText()).toContain('/notifications/stream');
    expect(world.logText()).not.toContain(issued.ticket);
  });

  test('when a ticket is used a second time, then 401: it works once', async () => {
    const user = await registerUser(world.url);
    const { url } = await ticketFor(user);
    const first = await openWith(url);
    expect(first.status).toBe(200);
    first.close();
    const again = await problem(url);
    expect(again.status).toBe(401);
    expect(again.body.detail).toMatch(/unknown, used or expired/);
  });

  test('when two requests race with one ticket, then exactly one stream opens', async () => {
    const user = await registerUser(world.url);
    const { url } = await ticketFor(user);
    const statuses = await Promise.all([1, 2, 3].map(async () => (await openWith(url)).status));
    expect(statuses.sort()).toEqual([200, 401, 401]);
  });

  test('when a ticket has expired, then 401 and nothing opens', async () => {
    const user = await registerUser(world.url);
    // Issued 61 s ago by the service's own ticket store (same database), with a 60 s life.
    const past = new StreamTickets(
      world.service.host.database.db,
      60_000,
      () => new Date(Date.now() - 61_000),
    );
    const principal = {
      userId: user.userId,
      role: 'user' as const,
      sessionId: (
        JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()) as {
          sid: string;
        }
      ).sid,
      token: user.accessToken,
    };
    const { ticket } = await past.issue(principal, new Date(Date.now() + 600_000));
    const res = await problem(`/notifications/stream?ticket=${ticket}`);
    expect(res.status).toBe(401);
  });

  test('when the clock passes a ticket’s expiry, then the store refuses it; before, it takes it once', async () => {
    const user = await registerUser(world.url);
    let now = new Date('2026-12-02T10:00:00Z');
    const store = new StreamTickets(world.service.host.database.db, 60_000, () => now);
    const principal = { userId: user.userId, role: 'user' as const, sessionId: 's-1', token: '' };
    const later = new Date('2026-12-02T11:00:00Z');
    const kept = await store.issue(principal, later);
    const lapsed = await store.issue(principal, later);
    now = new Date(now.getTime() + 59_999);
    expect(await store.redeem(kept.ticket)).toMatchObject({
      userId: user.userId,
      sessionId: 's-1',
    });
    expect(await store.redeem(kept.ticket)).toBeUndefined();
    now = new Date(now.getTime() + 1);
    expect(await store.redeem(lapsed.ticket)).toBeUndefined();
  });

  test('when another user presents the ticket with their own token, then 403 and the ticket is spent', async () => {
    const alice = await registerUser(world.url);
    const mallory = await registerUser(world.url);
    const { url } = await ticketFor(alice);
    const refused = await problem(url, { Authorization: mallory.authorization });
    expect(refused.status).toBe(403);
    expect((await problem(url)).status).toBe(401);
  });

  test('when a ticket stream is open, then it carries only its owner’s notifications', async () => {
    const alice = await registerUser(world.url);
    const bob = await registerUser(world.url);
    const stream = await openWith((await ticketFor(alice)).url);
    await publishCloudEvent(broker, exchanges.payment, upstreamEvents.paymentConfirmed(bob.userId));
    await publishCloudEvent(broker, exchanges.payment, upstreamEvents.paymentExpired(alice.userId));
    await eventually('one event on the stream', () => expect(stream.events).toHaveLength(1));
    expect(JSON.parse(stream.events[0]!.data)).toMatchObject({ kind: 'payment.expired' });
  });

  test('when the ticket is asked for without a token, or the stream with a malformed or unknown ticket, then 401 / 400 naming the field / 401', async () => {
    expect((await request(world.url).post('/notifications/stream-ticket')).status).toBe(401);
    const malformed = await problem('/notifications/stream?ticket=nope');
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors[0]).toMatchObject({ field: 'ticket', in: 'query' });
    expect((await problem('/notifications/stream')).status).toBe(400);
    const unknown = await problem(`/notifications/stream?ticket=st_${'A'.repeat(43)}`);
    expect(unknown.status).toBe(401);
  });

  test('when the session that asked for a ticket is signed out, then the ticket is refused', async () => {
    const user = await registerUser(world.url);
    const { url } = await ticketFor(user);
    await request(world.url)
      .post('/auth/logout')
      .set('Authorization', user.authorization)
      .send({})
      .expect(204);
    // the revocation has reached the service's list once the old token is refused
    await eventually('the profile to show it', async () =>
      expect(
        (
          await request(world.url)
            .get(`/users/${user.userId}`)
            .set('Authorization', user.authorization)
        ).status,
      ).toBe(401),
    );
    expect((await problem(url)).status).toBe(401);
  });

  test('when a user opens more streams than the cap, by ticket or by token, then the oldest is closed', async () => {
    const user = await registerUser(world.url);
    const byToken = await openWith(`/users/${user.userId}/notifications/stream`, {
      Authorization: user.authorization,
    });
    const first = await openWith((await ticketFor(user)).url);
    expect([byToken.status, first.status]).toEqual([200, 200]);
    expect(byToken.ended || first.ended).toBe(false);
    const second = await openWith((await ticketFor(user)).url);
    expect(second.status).toBe(200);
    // a cap of two: the stream opened by token, the oldest, is pushed out
    await eventually('the stream opened by token to end', () => expect(byToken.ended).toBe(true));
    const third = await openWith((await ticketFor(user)).url);
    expect(third.status).toBe(200);
    await eventually('the first stream to end', () => expect(first.ended).toBe(true));
    expect([second.ended, third.ended]).toEqual([false, false]);
  });

  test('when a ticket issued by one instance is used on another, then it opens there (tickets live in the database)', async () => {
    const other = await world.startAnother();
    const user = await registerUser(world.url);
    const { url } = await ticketFor(user);
    const stream = await openWith(url, {}, other.url);
    expect(stream.status).toBe(200);
    expect((await problem(url)).status).toBe(401);
  });
});
