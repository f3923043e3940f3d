import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import pg from 'pg';
import { z } from 'zod';
import { defineEvent, services } from '@meetmatt/contracts';
import {
  BrokerConnection,
  Consumer,
  RejectMessageError,
  consumerTopology,
  createLogger,
  withDatabase,
} from '@meetmatt/infra';
import {
  type TestDatabase,
  type TestVhost,
  createTestDatabase,
  createTestVhost,
  eventually,
} from '@meetmatt/infra/testing';
import {
  type ServiceAccounts,
  ensurePostgresAccount,
  ensureRabbitmqAccounts,
  localServiceAccounts,
  recreateOldLayoutQueues,
  withAccount,
} from '../src/lib/service-accounts';
import { loadSystemConfig, serviceEnv } from '../src/lib/system-config';

const logger = createLogger({ service: 'test', level: process.env.LOG_LEVEL ?? 'silent' });

let dir: string;
let accounts: ServiceAccounts;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meetmatt-accounts-'));
  // The accounts are server-wide names: the tests use this checkout's passwords, as npm start
  // does, so they never change a password under a running system.
  accounts = localServiceAccounts();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('RabbitMQ: each service connects as its own user', () => {
  let vhost: TestVhost;
  const open: ChannelModel[] = [];

  beforeAll(async () => {
    vhost = await createTestVhost('accounts');
    await ensureRabbitmqAccounts(vhost.url, accounts);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => undefined)));
    await vhost?.drop();
  });

  function urlOf(key: 'payment' | 'user' | 'brain'): string {
    const { user, password } = accounts[key].rabbitmq;
    return withAccount(vhost.url, user, password);
  }

  async function channelAs(key: 'payment' | 'user' | 'brain'): Promise<ConfirmChannel> {
    const connection = await amqp.connect(urlOf(key));
    connection.on('error', () => undefined);
    open.push(connection);
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  /** Publishes one message and waits for the broker's verdict: 'confirmed', or why not. */
  async function publishAs(
    key: 'payment' | 'user' | 'brain',
    exchange: string,
    routingKey: string,
  ): Promise<string> {
    const channel = await channelAs(key);
    const closed = new Promise<string>((resolve) =>
      channel.once('error', (error: Error) => resolve(error.message)),
    );
    const confirmed = new Promise<string>((resolve) => {
      channel.publish(exchange, routingKey, Buffer.from('{}'), { messageId: randomUUID() }, (e) =>
        resolve(e ? `nacked: ${String(e)}` : 'confirmed'),
      );
    });
    return Promise.race([
      closed,
      confirmed,
      new Promise<string>((resolve) => setTimeout(() => resolve('no answer in 5 s'), 5_000)),
    ]);
  }

  /** Binds a queue the service owns and reports the broker's verdict. */
  async function bindAs(
    key: 'payment' | 'user' | 'brain',
    exchange: string,
    routingKey: string,
  ): Promise<string> {
    const channel = await channelAs(key);
    const queue = `${services[key].name}.probe-${randomUUID().slice(0, 8)}`;
    try {
      await channel.assertQueue(queue, { durable: false, autoDelete: true });
      await channel.bindQueue(queue, exchange, routingKey);
      return 'bound';
    } catch (error) {
      return (error as Error).message;
    }
  }

  test('when a service publishes its own event type to its own exchange, then the broker confirms it', async () => {
    expect(await publishAs('payment', 'payment.events', 'payment.confirmed')).toBe('confirmed');
    expect(await publishAs('brain', 'brain.events', 'agent.deployed')).toBe('confirmed');
  });

  test('when a service publishes to another service’s exchange, then the broker refuses it (ACCESS_REFUSED)', async () => {
    expect(await publishAs('user', 'payment.events', 'payment.confirmed')).toMatch(
      /ACCESS_REFUSED.*payment\.events/,
    );
    expect(await publishAs('payment', 'brain.events', 'agent.deployed')).toMatch(/ACCESS_REFUSED/);
  });

  test('when a service publishes another service’s event type on its own exchange, then the broker refuses it', async () => {
    expect(await publishAs('user', 'user.events', 'payment.confirmed')).toMatch(/ACCESS_REFUSED/);
  });

  test('when a service publishes straight into another service’s queue through the default exchange, then the broker refuses it', async () => {
    expect(await publishAs('user', '', 'brain-service.payment-events')).toMatch(
      /ACCESS_REFUSED.*amq\.default/,
    );
  });

  test('when a consumer binds an event type on the exchange of the service that owns it, then it is bound; on any other exchange, refused', async () => {
    expect(await bindAs('brain', 'payment.events', 'payment.confirmed')).toBe('bound');
    expect(await bindAs('user', 'brain.events', 'agent.#')).toBe('bound');
    expect(await bindAs('brain', 'user.events', 'payment.confirmed')).toMatch(/ACCESS_REFUSED/);
    expect(await bindAs('brain', 'brain.events', 'payment.confirmed')).toMatch(/ACCESS_REFUSED/);
  });

  test('when a service declares or binds a queue named for another service, then the broker refuses it', async () => {
    const channel = await channelAs('user');
    await expect(channel.assertQueue('brain-service.payment-events.sneaky')).rejects.toThrow(
      /ACCESS_REFUSED/,
    );
  });

  test('when a real consumer runs as its service’s user, then it declares its topology, handles, retries and parks through its own failure exchange', async () => {
    const confirmedEvent = defineEvent('payment.confirmed', z.object({ n: z.number() }), {
      description: 'test',
    });
    const broker = new BrokerConnection({
      url: urlOf('brain'),
      logger,
      name: 'brain-test',
      minDelayMs: 50,
      maxDelayMs: 500,
    });
    expect(await broker.start()).toBe(true);
    const seen: number[] = [];
    let attemptsOfTwo = 0;
    const consumer = new Consumer({
      broker,
      logger,
      queue: `brain-service.accounts-${randomUUID().slice(0, 8)}`,
      exchange: 'payment.events',
      events: [confirmedEvent] as const,
      retryDelaysMs: [50],
      handle: async (event) => {
        const { n } = event.data;
        if (n === 2 && ++attemptsOfTwo === 1) throw new Error('once');
        if (n === 3) throw new RejectMessageError('never');
        seen.push(n);
        await Promise.resolve();
      },
    });
    consumer.start();
    try {
      await consumer.whenConsuming(AbortSignal.timeout(15_000)).catch(() => {
        throw new Error(`not consuming: ${consumer.lastError}`);
      });
      const payment = await channelAs('payment');
      for (const n of [1, 2, 3]) {
        const body = {
          specversion: '1.0',
          id: randomUUID(),
          source: 'payment-service',
          type: 'payment.confirmed',
          subject: `payment-${n}`,
          time: new Date().toISOString(),
          dataschemaversion: 1,
          data: { n },
        };
        payment.publish('payment.events', 'payment.confirmed', Buffer.from(JSON.stringify(body)), {
          messageId: body.id,
          contentType: 'application/cloudevents+json',
        });
      }
      await payment.waitForConfirms();
      await eventually('messages 1 and 2 handled', () => seen.includes(1) && seen.includes(2));
      // failed once, handled on its retry
      expect(attemptsOfTwo).toBe(2);
      const admin = await amqp.connect(vhost.url);
      try {
        const channel = await admin.createChannel();
        await eventually(
          'the message parked',
          async () =>
            expect((await channel.checkQueue(consumer.topology.parkingQueue)).messageCount).toBe(1),
          { timeoutMs: 10_000, intervalMs: 50 },
        );
      } finally {
        await admin.close();
      }
      expect(consumer.lastError).toBeUndefined();
    } finally {
      await consumer.stop();
      await broker.close();
    }
  });
});

describe('a consumer believes an event type only from the exchange of the service that owns it', () => {
  const confirmed = defineEvent('payment.confirmed', z.object({ n: z.number() }), {
    description: 'test',
  });

  test('when a consumer is made to take payment.confirmed from user.events, then it is refused before anything is declared', () => {
    const broker = new BrokerConnection({ url: 'amqp://127.0.0.1:1', logger, name: 'unused' });
    expect(
      () =>
        new Consumer({
          broker,
          logger,
          queue: 'brain-service.payment-events',
          exchange: 'user.events',
          events: [confirmed] as const,
          handle: async () => undefined,
        }),
    ).toThrow(
      'payment.confirmed cannot be taken from user.events: user-service publishes only user.* there',
    );
    expect(() =>
      consumerTopology('brain-service.x', [{ exchange: 'brain.events', routingKey: '#' }], []),
    ).toThrow(/# cannot be taken from brain\.events/);
  });

  test('when a consumer takes event types from their owners’ exchanges, then its topology is made', () => {
    expect(
      consumerTopology(
        'user-service.x',
        [
          { exchange: 'payment.events', routingKey: 'payment.confirmed' },
          { exchange: 'brain.events', routingKey: 'agent.deployed' },
          { exchange: 'user.events', routingKey: 'user.session-revoked' },
          // exchanges that are not ours (tests, benchmarks) are not judged
          { exchange: 'shop.events', routingKey: '#' },
        ],
        [1_000],
      ).failureExchange,
    ).toBe('user-service.x.failures');
  });
});

describe('RabbitMQ: queues declared before the services had their own users', () => {
  test('when a consumer queue still dead-letters through the default exchange, then prepare deletes it and keeps the parking queue', async () => {
    const vhost = await createTestVhost('old_layout');
    try {
      const admin = await amqp.connect(vhost.url);
      const channel = await admin.createChannel();
      const old = { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': '' };
      await channel.assertQueue('brain-service.payment-events', {
        durable: true,
        arguments: { ...old, 'x-dead-letter-routing-key': 'brain-service.payment-events.dlq' },
      });
      await channel.assertQueue('brain-service.payment-events.dlq', {
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      });
      await channel.assertQueue('brain-service.payment-events.retry.1000ms', {
        durable: true,
        arguments: { ...old, 'x-dead-letter-routing-key': 'brain-service.payment-events' },
      });
      await channel.assertQueue('someone-else.queue', { durable: true, arguments: old });
      // a queue of the new layout is left alone
      await channel.assertExchange('user-service.payment-events.failures', 'direct');
      await channel.assertQueue('user-service.payment-events', { durable: true });
      const lines: string[] = [];
      await recreateOldLayoutQueues(vhost.url, (line) => lines.push(line));
      expect(lines).toEqual([
        expect.stringMatching(/^deleted brain-service\.payment-events \(0 messages\)/),
        expect.stringMatching(
          /^deleted brain-service\.payment-events\.retry\.1000ms \(0 messages\)/,
        ),
      ]);
      const check = await admin.createChannel();
      check.on('error', () => undefined);
      await expect(check.checkQueue('brain-service.payment-events')).rejects.toThrow(/NOT_FOUND/);
      const kept = await admin.createChannel();
      await expect(kept.checkQueue('brain-service.payment-events.dlq')).resolves.toBeDefined();
      await expect(kept.checkQueue('someone-else.queue')).resolves.toBeDefined();
      await expect(kept.checkQueue('user-service.payment-events')).resolves.toBeDefined();
      await admin.close();
    } finally {
      await vhost.drop();
    }
  }, 60_000);
});

describe('npm start gives each service its own accounts', () => {
  test('when SERVICE_ACCOUNTS is own (the default), then a service’s URLs carry its own role and user, and shared leaves them as set', () => {
    const system = loadSystemConfig({
      POSTGRES_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
      RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672/some-vhost',
    });
    expect(system.SERVICE_ACCOUNTS).toBe('own');
    const env = serviceEnv(system, 'brain', {}, accounts);
    const database = new URL(env.DATABASE_URL!);
    const broker = new URL(env.RABBITMQ_URL!);
    expect([database.username, database.password, database.pathname]).toEqual([
      'meetmatt_brain',
      accounts.brain.postgres.password,
      '/meetmatt_brain',
    ]);
    expect([broker.username, broker.password, broker.pathname]).toEqual([
      'brain-service',
      accounts.brain.rabbitmq.password,
      '/some-vhost',
    ]);
    const shared = serviceEnv(system, 'brain', {});
    expect(shared.RABBITMQ_URL).toBe('amqp://guest:guest@127.0.0.1:5672/some-vhost');
  });

  test('when the accounts are read twice, then the passwords are the same, random and readable by their owner only', () => {
    const file = path.join(dir, 'service-accounts.json');
    const made = localServiceAccounts(file);
    expect(localServiceAccounts(file)).toEqual(made);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const passwords = Object.values(made).flatMap((a) => [
      a.postgres.password,
      a.rabbitmq.password,
    ]);
    expect(new Set(passwords).size).toBe(6);
    for (const password of passwords) expect(password.length).toBeGreaterThanOrEqual(32);
  });
});

describe('PostgreSQL: each service has its own role that owns only its database', () => {
  let paymentDb: TestDatabase;
  let brainDb: TestDatabase;
  const adminUrl = withDatabase(
    process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    'postgres',
  );

  beforeAll(async () => {
    paymentDb = await createTestDatabase('accounts_payment');
    brainDb = await createTestDatabase('accounts_brain');
    // a table made by the superuser before the role existed, as on a machine that ran old main
    const client = new pg.Client({ connectionString: paymentDb.url });
    await client.connect();
    await client.query('CREATE TABLE earlier (id serial PRIMARY KEY, note text)');
    await client.query('CREATE SCHEMA projection_build');
    await client.end();
    await ensurePostgresAccount(adminUrl, paymentDb.url, accounts.payment.postgres);
    await ensurePostgresAccount(adminUrl, brainDb.url, accounts.brain.postgres);
  }, 30_000);

  afterAll(async () => {
    await paymentDb?.drop();
    await brainDb?.drop();
  });

  function as(key: 'payment' | 'brain', databaseUrl: string): pg.Client {
    const { role, password } = accounts[key].postgres;
    return new pg.Client({ connectionString: withAccount(databaseUrl, role, password) });
  }

  test('when prepared, then the role owns its database and what the superuser had made in it', async () => {
    const client = as('payment', paymentDb.url);
    await client.connect();
    try {
      const owners = await client.query<{ what: string; owner: string }>(
        `SELECT 'database' AS what, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()
         UNION ALL SELECT 'earlier', tableowner FROM pg_tables WHERE tablename = 'earlier'
         UNION ALL SELECT 'schema', pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'projection_build'`,
      );
      expect(owners.rows).toEqual([
        { what: 'database', owner: 'meetmatt_payment' },
        { what: 'earlier', owner: 'meetmatt_payment' },
        { what: 'schema', owner: 'meetmatt_payment' },
      ]);
      // it can do what a migration and a rebuild do
      await client.query('INSERT INTO earlier (note) VALUES ($1)', ['x']);
      await client.query('CREATE TABLE made_by_role (id int)');
      await client.query('ALTER TABLE earlier RENAME TO earlier_v2');
      const role = await client.query<{ rolsuper: boolean; rolcreatedb: boolean }>(
        'SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user',
      );
      expect(role.rows).toEqual([{ rolsuper: false, rolcreatedb: false }]);
    } finally {
      await client.end();
    }
  });

  test('when a service’s role connects to another service’s database, then PostgreSQL refuses it', async () => {
    const client = as('payment', brainDb.url);
    client.on('error', () => undefined);
    await expect(client.connect()).rejects.toThrow(/permission denied for database/);
  });

  test('when prepared twice, then nothing changes and nothing fails', async () => {
    await ensurePostgresAccount(adminUrl, paymentDb.url, accounts.payment.postgres);
    const client = as('payment', paymentDb.url);
    await client.connect();
    await expect(
      client.query('SELECT count(*)::int AS n FROM made_by_role'),
    ).resolves.toMatchObject({ rows: [{ n: 0 }] });
    await client.end();
  });
});
