import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import request from 'supertest';
import { type CloudEvent } from '@meetmatt/contracts';
import { toCloudEvent, toMessage } from '@meetmatt/infra';
import {
  type CapturedLog,
  type TestDatabase,
  type TestVhost,
  captureLogger,
  createTestDatabase,
  createTestVhost,
} from '@meetmatt/infra/testing';
import { changeRole } from '../../src/application/roles';
import { type RunningUserService, start } from '../../src/main';

/** One test file's servers and service: its own database and vhost, dropped afterwards. */
export interface UserWorld {
  database: TestDatabase;
  vhost: TestVhost;
  service: RunningUserService;
  url: string;
  logs: CapturedLog[];
  /** Everything logged, as text, to prove what never was. */
  logText(): string;
  /** A plain amqplib connection to the test vhost. */
  broker(): Promise<ChannelModel>;
  /** Another instance of the service on the same database and vhost. */
  startAnother(env?: Record<string, string>): Promise<RunningUserService>;
  stop(): Promise<void>;
}

/** What the gateway would send: /auth/verify answers nobody else (404). */
export const GATEWAY_SECRET = `test-gateway-${randomUUID()}`;
export const fromGateway = { 'X-Gateway-Secret': GATEWAY_SECRET };

export function testEnv(database: TestDatabase, vhost: TestVhost): Record<string, string> {
  return {
    PORT: '0',
    DATABASE_URL: database.url,
    RABBITMQ_URL: vhost.url,
    NODE_ENV: 'test',
    // Cheap hashes in tests; production runs OWASP's 2^17.
    PASSWORD_SCRYPT_LOG_N: '10',
    USAGE_FLUSH_INTERVAL_MS: '200',
    SSE_HEARTBEAT_MS: '200',
    READ_YOUR_WRITES_TIMEOUT_MS: '5000',
    // Every test signs up from 127.0.0.1; the tests of the limits set their own.
    REGISTER_LIMIT_PER_ADDRESS: '100000',
    LOGIN_LIMIT_PER_ADDRESS: '100000',
    GATEWAY_SHARED_SECRET: GATEWAY_SECRET,
  };
}

export async function startWorld(
  prefix: string,
  env: Record<string, string> = {},
): Promise<UserWorld> {
  const [database, vhost] = await Promise.all([
    createTestDatabase(prefix),
    createTestVhost(prefix),
  ]);
  const captured = captureLogger('user-service');
  const others: RunningUserService[] = [];
  const connections: ChannelModel[] = [];
  let service: RunningUserService;
  try {
    service = await start({
      env: { ...testEnv(database, vhost), ...env },
      logger: captured.logger,
    });
  } catch (error) {
    await Promise.all([database.drop(), vhost.drop()]);
    throw error;
  }
  return {
    database,
    vhost,
    service,
    url: service.url,
    logs: captured.entries,
    logText: captured.text,
    async broker() {
      const connection = await amqp.connect(vhost.url);
      connection.on('error', () => undefined);
      connections.push(connection);
      return connection;
    },
    async startAnother(extra = {}) {
      const other = await start({
        env: { ...testEnv(database, vhost), ...env, ...extra },
        logger: captured.logger,
      });
      others.push(other);
      return other;
    },
    async stop() {
      await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
      await Promise.all(others.map((o) => o.stop()));
      await service.stop();
      await Promise.all([database.drop(), vhost.drop()]);
    },
  };
}

export interface RegisteredUser {
  userId: string;
  email: string;
  password: string;
  displayName: string;
  accessToken: string;
  refreshToken: string;
  authorization: string;
}

let counter = 0;
export function uniqueEmail(tag = 'user'): string {
  counter += 1;
  return `${tag}.${counter}.${randomUUID().slice(0, 8)}@example.com`;
}

export function strongPassword(): string {
  return `pw-${randomUUID()}`;
}

export async function registerUser(
  url: string,
  overrides: Partial<{ email: string; password: string; displayName: string }> = {},
): Promise<RegisteredUser> {
  const email = overrides.email ?? uniqueEmail();
  const password = overrides.password ?? strongPassword();
  const displayName = overrides.displayName ?? `Tester ${email.slice(0, 12)}`;
  const res = await request(url)
    .post('/auth/register')
    .send({ email, password, displayName })
    .expect(201);
  const body = res.body as {
    user: { id: string };
    accessToken: string;
    refreshToken: string;
  };
  return {
    userId: body.user.id,
    email,
    password,
    displayName,
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
    authorization: `Bearer ${body.accessToken}`,
  };
}

/**
 * Publishes an event on another service's exchange exactly as its relay would: the stored event
 * turned into a CloudEvent (structured mode) and an AMQP message by the relay's own functions.
 */
export async function publishCloudEvent(
  connection: ChannelModel,
  exchange: string,
  event: { type: string; data: unknown; source: string; streamId: string; id?: string },
): Promise<CloudEvent> {
  const cloudEvent = toCloudEvent(
    {
      id: event.id ?? randomUUID(),
      type: event.type,
      data: event.data,
      metadata: { correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
      streamId: event.streamId,
      revision: 0,
      position: { commit: 1n, prepare: 1n },
      createdAt: new Date(),
    },
    event.source,
  );
  const message = toMessage(cloudEvent);
  const channel = await connection.createConfirmChannel();
  try {
    await channel.assertExchange(exchange, 'topic', { durable: true });
    channel.publish(exchange, message.routingKey, message.content, message.options);
    await channel.waitForConfirms();
  } finally {
    await channel.close();
  }
  return cloudEvent;
}

/**
 * Makes a user an admin as an operator does (meetmatt users grant-admin: user.role-changed
 * through the user decider), then refreshes their tokens so the access token carries the role.
 */
export async function grantAdmin(
  service: RunningUserService,
  user: RegisteredUser,
): Promise<RegisteredUser> {
  const changed = await changeRole(
    service.context,
    user.userId,
    'admin',
    'test-operator',
    new Date(),
  );
  if (!changed.ok) throw new Error(changed.error.message);
  await service.context.waitForProjections(changed.position);
  const res = await request(service.url)
    .post('/auth/refresh')
    .send({ refreshToken: user.refreshToken })
    .expect(200);
  const body = res.body as { accessToken: string; refreshToken: string };
  return {
    ...user,
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
    authorization: `Bearer ${body.accessToken}`,
  };
}
