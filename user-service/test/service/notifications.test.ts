import { eventually } from '@meetmatt/infra/testing';
import { randomUUID } from 'node:crypto';
import { type ChannelModel } from 'amqplib';
import request from 'supertest';
import { exchanges, parkingQueueName, queues } from '@meetmatt/contracts';
import { upstreamEvents } from '../support/upstream-events';
import { openStream } from '../support/sse';
import {
  type RegisteredUser,
  type UserWorld,
  publishCloudEvent,
  registerUser,
  startWorld,
} from '../support/world';

interface Listed {
  notifications: {
    id: string;
    kind: string;
    title: string;
    body: string;
    link: string | null;
    correlationId: string | null;
    read: boolean;
  }[];
  unread: number;
}

describe('notifications', () => {
  let world: UserWorld;
  let broker: ChannelModel;

  beforeAll(async () => {
    world = await startWorld('user_notify');
    broker = await world.broker();
    // the consumers' queues are declared and bound before anything is published
    await eventually('the service to be ready', () =>
      request(world.url).get('/readyz').expect(200),
    );
  });

  afterAll(async () => {
    await world?.stop();
  });

  /** How many messages a queue's consumer has finished with this outcome (its metric). */
  const consumed = async (queue: string, outcome: 'handled' | 'duplicate'): Promise<number> => {
    const metrics = await request(world.url).get('/metrics').expect(200);
    const line = new RegExp(
      `^bus_consumed_total\\{[^}]*queue="${queue}"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`,
      'm',
    ).exec(metrics.text);
    return Number(line?.[1] ?? 0);
  };

  /** The read models have applied everything stored so far. */
  const settled = async () => {
    const { host } = world.service;
    expect((await host.waitForProjections(await host.eventStore.headPosition())).ok).toBe(true);
  };

  const list = async (user: RegisteredUser, query = ''): Promise<Listed> =>
    (
      await request(world.url)
        .get(`/users/${user.userId}/notifications${query}`)
        .set('Authorization', user.authorization)
        .expect(200)
    ).body as Listed;

  test('when payment.confirmed is published on the bus, then the user gets a notification', async () => {
    const user = await registerUser(world.url);
    const event = upstreamEvents.paymentConfirmed(user.userId);
    const published = await publishCloudEvent(broker, exchanges.payment, event);
    const listed = await eventually('one notification listed', async () => {
      const body = await list(user);
      expect(body.notifications).toHaveLength(1);
      return body;
    });
    expect(listed.unread).toBe(1);
    expect(listed.notifications[0]).toEqual({
      id: expect.any(String),
      kind: 'payment.confirmed',
      title: 'Payment confirmed',
      body: expect.stringContaining('49 USD'),
      link: `/payments/${event.data.paymentId}`,
      correlationId: published.correlationid,
      read: false,
      createdAt: expect.any(String),
    });
    expect(world.logText()).toContain('notification created');
  });

  test('when the same event is delivered twice, then there is one notification', async () => {
    const user = await registerUser(world.url);
    const event = { ...upstreamEvents.paymentExpired(user.userId), id: randomUUID() };
    const duplicates = () => consumed(queues.userPaymentEvents, 'duplicate');
    const before = await duplicates();
    await publishCloudEvent(broker, exchanges.payment, event);
    await publishCloudEvent(broker, exchanges.payment, event);
    // the second copy has been through the handler (and found the inbox row) before we count
    await eventually('the duplicate to be counted', async () =>
      expect(await duplicates()).toBe(before + 1),
    );
    await settled();
    const listed = await list(user);
    expect(listed.notifications.map((n) => n.kind)).toEqual(['payment.expired']);
  });

  test('when the user turned a kind off, then none of that kind comes, and others still do', async () => {
    const user = await registerUser(world.url);
    await request(world.url)
      .put(`/users/${user.userId}/preferences`)
      .set('Authorization', user.authorization)
      .send({
        notificationChannels: ['in_app'],
        notifyOn: {
          paymentConfirmed: false,
          paymentFailed: true,
          agentDeployed: true,
          agentFailed: true,
        },
        defaultPayCurrency: null,
        timeZone: 'UTC',
        locale: 'en',
      })
      .expect(200);
    const before = await consumed(queues.userPaymentEvents, 'handled');
    await publishCloudEvent(
      broker,
      exchanges.payment,
      upstreamEvents.paymentConfirmed(user.userId),
    );
    await publishCloudEvent(broker, exchanges.payment, upstreamEvents.paymentExpired(user.userId));
    await eventually('two payment events handled', async () =>
      expect(await consumed(queues.userPaymentEvents, 'handled')).toBeGreaterThanOrEqual(
        before + 2,
      ),
    );
    await settled();
    expect((await list(user)).notifications.map((n) => n.kind)).toEqual(['payment.expired']);
  });

  test('when an agent deploys or fails for good, then the user is told; a failure that will be retried says nothing', async () => {
    const user = await registerUser(world.url);
    const before = await consumed(queues.userAgentEvents, 'handled');
    await publishCloudEvent(
      broker,
      exchanges.brain,
      upstreamEvents.agentDeployFailed(user.userId, false),
    );
    await publishCloudEvent(broker, exchanges.brain, upstreamEvents.agentDeployed(user.userId));
    await publishCloudEvent(
      broker,
      exchanges.brain,
      upstreamEvents.agentDeployFailed(user.userId, true),
    );
    await eventually('three agent events handled', async () =>
      expect(await consumed(queues.userAgentEvents, 'handled')).toBeGreaterThanOrEqual(before + 3),
    );
    await settled();
    const listed = await list(user);
    expect(listed.notifications).toHaveLength(2);
    expect(listed.notifications.map((n) => n.kind).sort()).toEqual([
      'agent.deploy-failed',
      'agent.deployed',
    ]);
    expect(listed.notifications.find((n) => n.kind === 'agent.deployed')!.body).toContain(
      'https://github.com/acme/helper/pull/1',
    );
  });

  test('when a notification is marked read, then it leaves the unread list; someone else’s cannot be marked', async () => {
    const user = await registerUser(world.url);
    const other = await registerUser(world.url);
    await publishCloudEvent(
      broker,
      exchanges.payment,
      upstreamEvents.paymentConfirmed(user.userId),
    );
    await publishCloudEvent(broker, exchanges.payment, upstreamEvents.paymentExpired(user.userId));
    const { notifications } = await eventually('two notifications listed', async () => {
      const body = await list(user);
      expect(body.notifications).toHaveLength(2);
      return body;
    });
    const [first] = notifications;
    await request(world.url)
      .post(`/users/${other.userId}/notifications/${first!.id}/read`)
      .set('Authorization', other.authorization)
      .expect(404);
    await request(world.url)
      .post(`/users/${user.userId}/notifications/${first!.id}/read`)
      .set('Authorization', user.authorization)
      .expect(204);
    const unread = await list(user, '?unread=true');
    expect(unread.notifications.map((n) => n.id)).not.toContain(first!.id);
    expect(unread.unread).toBe(1);
    const all = await list(user, '?unread=false&limit=1');
    expect(all.notifications).toHaveLength(1);
    await request(world.url)
      .post(`/users/${user.userId}/notifications/${randomUUID()}/read`)
      .set('Authorization', user.authorization)
      .expect(404);
  });

  test('when user A reads or streams user B’s notifications, then 404', async () => {
    const a = await registerUser(world.url);
    const b = await registerUser(world.url);
    await request(world.url)
      .get(`/users/${b.userId}/notifications`)
      .set('Authorization', a.authorization)
      .expect(404);
    const stream = await openStream(`${world.url}/users/${b.userId}/notifications/stream`, {
      Authorization: a.authorization,
    });
    expect(stream.status).toBe(404);
    stream.close();
  });

  test('when the query is bad, then 400 naming it', async () => {
    const user = await registerUser(world.url);
    for (const [query, field] of [
      ['?unread=maybe', 'unread'],
      ['?limit=0', 'limit'],
      ['?limit=abc', 'limit'],
    ]) {
      const res = await request(world.url)
        .get(`/users/${user.userId}/notifications${query}`)
        .set('Authorization', user.authorization);
      expect(res.status).toBe(400);
      expect(res.body.errors[0]).toMatchObject({ field, in: 'query' });
    }
  });

  describe('the live stream', () => {
    test('when a notification is made while the stream is open, then it is pushed at once, with heartbeats between', async () => {
      const user = await registerUser(world.url);
      const stream = await openStream(`${world.url}/users/${user.userId}/notifications/stream`, {
        Authorization: user.authorization,
      });
      try {
        expect(stream.status).toBe(200);
        expect(stream.contentType).toMatch(/^text\/event-stream/);
        await publishCloudEvent(
          broker,
          exchanges.payment,
          upstreamEvents.paymentConfirmed(user.userId),
        );
        await eventually('one event on the stream', () => expect(stream.events).toHaveLength(1));
        const [pushed] = stream.events;
        expect(pushed!.event).toBe('notification');
        const data = JSON.parse(pushed!.data);
        expect(data).toMatchObject({ kind: 'payment.confirmed', read: false });
        expect(pushed!.id).toBe(data.id);
        await eventually('a heartbeat on the stream', () =>
          expect(stream.comments).toContain('heartbeat'),
        );
        const { notifications } = await list(user);
        expect(notifications[0]!.id).toBe(data.id);
      } finally {
        stream.close();
      }
    });

    test('when a stream resumes with Last-Event-ID, then what it missed comes first', async () => {
      const user = await registerUser(world.url);
      await publishCloudEvent(
        broker,
        exchanges.payment,
        upstreamEvents.paymentConfirmed(user.userId),
      );
      const [seen] = (
        await eventually('one notification listed', async () => {
          const body = await list(user);
          expect(body.notifications).toHaveLength(1);
          return body;
        })
      ).notifications;
      await publishCloudEvent(
        broker,
        exchanges.payment,
        upstreamEvents.paymentExpired(user.userId),
      );
      await eventually('two notifications listed', async () =>
        expect((await list(user)).notifications).toHaveLength(2),
      );
      const stream = await openStream(`${world.url}/users/${user.userId}/notifications/stream`, {
        Authorization: user.authorization,
        'Last-Event-ID': seen!.id,
      });
      try {
        await eventually('one event on the stream', () => expect(stream.events).toHaveLength(1));
        expect(JSON.parse(stream.events[0]!.data).kind).toBe('payment.expired');
      } finally {
        stream.close();
      }
    });

    test('when the client goes away, then the stream is cleaned up', async () => {
      const user = await registerUser(world.url);
      const stream = await openStream(`${world.url}/users/${user.userId}/notifications/stream`, {
        Authorization: user.authorization,
      });
      const gauge = async () => {
        const metrics = await request(world.url).get('/metrics').expect(200);
        return Number(/^notification_streams_open\{[^}]*\} (\d+)/m.exec(metrics.text)?.[1]);
      };
      await eventually('the open-streams gauge to count it', async () =>
        expect(await gauge()).toBeGreaterThanOrEqual(1),
      );
      const before = await gauge();
      stream.close();
      await eventually('the open-streams gauge to drop by one', async () =>
        expect(await gauge()).toBe(before - 1),
      );
    });

    test('when the session is revoked, then its stream ends', async () => {
      const user = await registerUser(world.url);
      const stream = await openStream(`${world.url}/users/${user.userId}/notifications/stream`, {
        Authorization: user.authorization,
      });
      expect(stream.status).toBe(200);
      await request(world.url)
        .post('/auth/logout')
        .set('Authorization', user.authorization)
        .send({})
        .expect(204);
      await eventually('the stream to end', () => expect(stream.ended).toBe(true));
    });

    test('when the stream is asked for without a token, then 401', async () => {
      const stream = await openStream(`${world.url}/users/${randomUUID()}/notifications/stream`);
      expect(stream.status).toBe(401);
      stream.close();
    });
  });

  test('when a message is not a valid payment event, then it is parked and the consumer carries on', async () => {
    const user = await registerUser(world.url);
    const broken = upstreamEvents.paymentConfirmed(user.userId, { priceAmount: 'a lot' });
    await publishCloudEvent(broker, exchanges.payment, broken);
    const channel = await broker.createChannel();
    try {
      await eventually('a message in the parking queue', async () => {
        const { messageCount } = await channel.checkQueue(
          parkingQueueName(queues.userPaymentEvents),
        );
        expect(messageCount).toBeGreaterThanOrEqual(1);
      });
    } finally {
      await channel.close();
    }
    await publishCloudEvent(
      broker,
      exchanges.payment,
      upstreamEvents.paymentConfirmed(user.userId),
    );
    await eventually('one notification listed', async () =>
      expect((await list(user)).notifications).toHaveLength(1),
    );
  });
});
