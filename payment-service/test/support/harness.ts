import { randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import request from 'supertest';
import { type CloudEvent, type PaymentDetailSchema, services } from '@meetmatt/contracts';
import { type z } from 'zod';
import {
  type CapturedLog,
  type TestDatabase,
  TestIssuer,
  type TestUser,
  type TestVhost,
  captureLogger,
  createTestDatabase,
  createTestVhost,
} from '@meetmatt/infra/testing';
import { type RunningPaymentService, start } from '../../src/main';
import {
  type NowPaymentsSandbox,
  type NowPaymentsSandboxOptions,
  createNowPaymentsSandbox,
} from '../../src/nowpayments';

export const API_KEY = `test-key-${randomUUID()}`;
export const IPN_SECRET = `test-secret-${randomUUID()}`;

export type PaymentDetail = z.infer<typeof PaymentDetailSchema>;

/** Statuses of a payment's history, oldest first. */
export function historyOf(detail: unknown): string[] {
  return (detail as PaymentDetail).history.map((entry) => entry.status);
}

/** Messages on `payment.events`, as a queue bound to every routing key sees them. */
export interface BusTap {
  messages: { routingKey: string; event: CloudEvent }[];
  ofType(type: string): CloudEvent[];
  close(): Promise<void>;
}

async function tapExchange(url: string, exchange: string): Promise<BusTap> {
  const connection: ChannelModel = await amqp.connect(url);
  const channel: Channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(queue, exchange, '#');
  const messages: BusTap['messages'] = [];
  await channel.consume(
    queue,
    (message: ConsumeMessage | null) => {
      if (!message) return;
      messages.push({
        routingKey: message.fields.routingKey,
        event: JSON.parse(message.content.toString('utf8')) as CloudEvent,
      });
    },
    { noAck: true },
  );
  return {
    messages,
    ofType: (type) => messages.filter((m) => m.event.type === type).map((m) => m.event),
    close: () => connection.close().catch(() => undefined),
  };
}

export interface HarnessOptions {
  env?: Record<string, string>;
  sandbox?: Partial<NowPaymentsSandboxOptions>;
}

export interface PaymentHarness {
  service: RunningPaymentService;
  sandbox: NowPaymentsSandbox;
  issuer: TestIssuer;
  database: TestDatabase;
  vhost: TestVhost;
  bus: BusTap;
  logs: CapturedLog[];
  logText(): string;
  api(): ReturnType<typeof request>;
  user(): Promise<TestUser>;
  admin(): Promise<TestUser>;
  stop(): Promise<void>;
}

/**
 * The real service in-process against its own database and RabbitMQ vhost, trusting a test
 * issuer's tokens, talking to the NOWPayments sandbox (which posts its IPNs back to the service
 * under test), with a queue bound to `payment.events` to see what it publishes.
 */
export async function startPaymentHarness(options: HarnessOptions = {}): Promise<PaymentHarness> {
  const [database, vhost, issuer] = await Promise.all([
    createTestDatabase('payment'),
    createTestVhost('payment'),
    TestIssuer.start(),
  ]);
  const sandbox = createNowPaymentsSandbox({
    apiKey: API_KEY,
    ipnSecret: IPN_SECRET,
    stepMs: 5,
    ...options.sandbox,
  });
  const { url: sandboxUrl } = await sandbox.start(0);
  const bus = await tapExchange(vhost.url, services.payment.exchange);
  const { logger, entries, text } = captureLogger('payment-service');
  const service = await start({
    logger,
    env: {
      PORT: '0',
      DATABASE_URL: database.url,
      RABBITMQ_URL: vhost.url,
      NOWPAYMENTS_API_URL: sandboxUrl,
      NOWPAYMENTS_API_KEY: API_KEY,
      NOWPAYMENTS_IPN_SECRET: IPN_SECRET,
      NOWPAYMENTS_TIMEOUT_MS: '2000',
      RECONCILER_INTERVAL_MS: '0',
      LOG_LEVEL: 'debug',
      ...issuer.env,
      ...options.env,
    },
  });
  return {
    service,
    sandbox,
    issuer,
    database,
    vhost,
    bus,
    logs: entries,
    logText: text,
    api: () => request(service.url),
    user: () => issuer.user(),
    admin: () => issuer.admin(),
    async stop() {
      await sandbox.stop();
      await service.stop();
      await bus.close();
      await issuer.stop();
      await Promise.all([database.drop(), vhost.drop()]);
    },
  };
}

/** A create-payment body; override what the test is about. */
export function paymentRequest(overrides: Record<string, unknown> = {}) {
  const { agent, ...rest } = overrides;
  return {
    plan: 'starter',
    payCurrency: 'btc',
    agent: {
      name: `Agent ${randomUUID().slice(0, 8)}`,
      instructions: 'Answer support questions from our docs',
      ...(agent as Record<string, unknown> | undefined),
    },
    ...rest,
  };
}

/** An agent name carrying sandbox markers (they travel in order_description). */
export function scenario(...markers: string[]): { agent: { name: string } } {
  return {
    agent: {
      name: `Agent ${randomUUID().slice(0, 6)} ${markers.map((m) => `[sandbox:${m}]`).join(' ')}`,
    },
  };
}
