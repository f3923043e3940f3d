import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { type CloudEvent, exchanges, services, userEvents } from '@meetmatt/contracts';
import {
  RevocationFeed,
  RevocationList,
  RevokedCredentials,
  ServiceHost,
  toMessage,
} from '@meetmatt/infra';
import {
  type TestDatabase,
  type TestVhost,
  captureLogger,
  createTestDatabase,
  createTestVhost,
  eventually,
} from '@meetmatt/infra/testing';

const QUEUE = 'test-service.user-revocations';

/** Polls until `check` passes; fails with its last error after `timeoutMs`. */
const within = <T>(timeoutMs: number, check: () => T): Promise<T> =>
  eventually('the revocation feed', check, { timeoutMs, intervalMs: 10 });

function revocationEvent(
  kind: 'session' | 'api-key',
  overrides: { id?: string; credentialId?: string; revokedAt?: string } = {},
): CloudEvent {
  const credentialId = overrides.credentialId ?? randomUUID();
  const userId = randomUUID();
  const revokedAt = overrides.revokedAt ?? new Date().toISOString();
  const [type, subject, data] =
    kind === 'session'
      ? [
          userEvents.sessionRevoked.type,
          `user-session-${credentialId}`,
          { userId, sessionId: credentialId, reason: 'logout', revokedAt },
        ]
      : [
          userEvents.apiKeyRevoked.type,
          `user-apikey-${credentialId}`,
          { userId, keyId: credentialId, revokedAt },
        ];
  return {
    specversion: '1.0',
    id: overrides.id ?? randomUUID(),
    source: services.user.name,
    type,
    subject,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    dataschemaversion: 1,
    correlationid: randomUUID(),
    data,
  };
}

interface Instance {
  host: ServiceHost;
  list: RevocationList;
  feed: RevocationFeed;
}

/**
 * The revocation feed of a service that does not issue tokens, against real PostgreSQL and
 * RabbitMQ: instances share one database and one queue, as replicas of payment-service do.
 */
describe('revocation feed', () => {
  let database: TestDatabase;
  let vhost: TestVhost;
  let broker: ChannelModel;
  const hosts: ServiceHost[] = [];
  let a: Instance;
  let b: Instance;

  async function instance(
    options: { pruneEveryMs?: number; queue?: string; databaseUrl?: string } = {},
  ): Promise<Instance> {
    const { databaseUrl, ...feedOptions } = options;
    const host = await ServiceHost.create({
      name: 'test-service',
      config: {
        PORT: 0,
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl ?? database.url,
        RABBITMQ_URL: vhost.url,
        LOG_LEVEL: 'warn',
        SHUTDOWN_TIMEOUT_MS: 5_000,
        READ_YOUR_WRITES_TIMEOUT_MS: 2_000,
      },
      migrations: {},
      logger: captureLogger('test-service').logger,
    });
    const list = new RevocationList(900);
    const feed = await RevocationFeed.start(host, { queue: QUEUE, list, ...feedOptions });
    hosts.push(host);
    return { host, list, feed };
  }

  async function publish(event: CloudEvent): Promise<void> {
    const channel = await broker.createConfirmChannel();
    const message = toMessage(event);
    channel.publish(exchanges.user, message.routingKey, message.content, message.options);
    await channel.waitForConfirms();
    await channel.close();
  }

  async function rowsFor(id: string): Promise<number> {
    const { rows } = await a.host.database.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM revoked_credentials WHERE id = $1',
      [id],
    );
    return rows[0]!.n;
  }

  beforeAll(async () => {
    [database, vhost] = await Promise.all([
      createTestDatabase('revocation_feed'),
      createTestVhost('revocation_feed'),
    ]);
    broker = await amqp.connect(vhost.url);
    a = await instance();
    b = await instance();
  });

  afterAll(async () => {
    await broker?.close().catch(() => undefined);
    for (const host of hosts.reverse()) await host.stop();
    await Promise.all([database?.drop(), vhost?.drop()]);
  });

  test('when a session is revoked on the bus, then every instance refuses it within a second, though only one consumed it', async () => {
    const sessionId = randomUUID();
    const started = Date.now();
    await publish(revocationEvent('session', { credentialId: sessionId }));
    await within(1_000, () =>
      expect([a.list.has(sessionId), b.list.has(sessionId)]).toEqual([true, true]),
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await rowsFor(sessionId)).toBe(1);
  });

  test('when an API key is revoked on the bus, then every instance refuses it within a second', async () => {
    const keyId = randomUUID();
    await publish(revocationEvent('api-key', { credentialId: keyId }));
    await within(1_000, () => expect([a.list.has(keyId), b.list.has(keyId)]).toEqual([true, true]));
    expect(await rowsFor(keyId)).toBe(1);
  });

  test('when the same revocation is delivered twice, then it is recorded once and the second counts as a duplicate', async () => {
    const sessionId = randomUUID();
    const event = {
      type: userEvents.sessionRevoked.type,
      data: {
        userId: randomUUID(),
        sessionId,
        reason: 'logout' as const,
        revokedAt: new Date().toISOString(),
      },
      id: randomUUID(),
      source: services.user.name,
      subject: `user-session-${sessionId}`,
      time: new Date().toISOString(),
      correlationId: randomUUID(),
      attempts: 0,
      redelivered: false,
    };
    expect(await a.feed.onEvent(event)).toBe('processed');
    expect(await b.feed.onEvent({ ...event, redelivered: true })).toBe('duplicate');
    expect(await rowsFor(sessionId)).toBe(1);
  });

  test('when an instance starts after a revocation, then it refuses the revoked credential before it serves', async () => {
    const sessionId = randomUUID();
    await new RevokedCredentials(a.host.database.pool).record({
      id: sessionId,
      kind: 'session',
      userId: randomUUID(),
      revokedAt: new Date(),
    });
    const late = await instance();
    expect(late.list.has(sessionId)).toBe(true);
  });

  test('when a recorded revocation is older than the longest token life, then it is neither loaded nor kept', async () => {
    const old = randomUUID();
    const store = new RevokedCredentials(a.host.database.pool);
    await store.record({
      id: old,
      kind: 'api_key',
      userId: randomUUID(),
      revokedAt: new Date(Date.now() - 2 * 3_600_000),
    });
    const late = await instance({ pruneEveryMs: 0 });
    expect(late.list.has(old)).toBe(false);
    await late.feed.poll();
    expect(await rowsFor(old)).toBe(0);
  });

  test('when revocations were made while no instance ran, then a starting instance handles them before it serves', async () => {
    // Another service: its own queue and database, which the instances above do not write.
    const own = await createTestDatabase('revocation_backlog');
    try {
      const queue = 'other-service.user-revocations';
      const first = await instance({ queue, databaseUrl: own.url });
      await first.host.stop();
      const sessionId = randomUUID();
      await publish(revocationEvent('session', { credentialId: sessionId }));
      const next = await instance({ queue, databaseUrl: own.url });
      expect(next.list.has(sessionId)).toBe(true);
      await next.host.stop();
    } finally {
      await own.drop();
    }
  });
});
