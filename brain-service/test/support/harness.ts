import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { type z } from 'zod';
import { type AgentDetailSchema, paymentEvents, queues } from '@meetmatt/contracts';
import {
  type TestDatabase,
  TestIssuer,
  type TestUser,
  type TestVhost,
  captureLogger,
  createTestDatabase,
  createTestVhost,
  eventually,
} from '@meetmatt/infra/testing';
import { type DevinSandbox, createDevinSandbox } from '../../src/devin';
import { agentIdFor } from '../../src/domain/agent-identity';
import { type RunningBrainService, start } from '../../src/main';
import { TestBus } from './bus';

/** Fast clocks for tests: a sandbox step, a poll, a rescan take milliseconds. */
export const fastSettings: Record<string, string> = {
  DEVIN_POLL_INTERVAL_MS: '10',
  DEVIN_POLL_MAX_INTERVAL_MS: '40',
  DEVIN_RETRY_MIN_DELAY_MS: '1',
  DEVIN_RETRY_MAX_DELAY_MS: '20',
  DEVIN_REQUEST_TIMEOUT_MS: '2000',
  DEVIN_BUILD_DEADLINE_MS: '20000',
  BUILD_SCAN_INTERVAL_MS: '200',
  // The machines tests run on are busy: a projection may take longer than the default 2 s.
  READ_YOUR_WRITES_TIMEOUT_MS: '10000',
};

export type AgentDetail = z.infer<typeof AgentDetailSchema>;

export interface BrainWorld {
  service: RunningBrainService;
  sandbox: DevinSandbox;
  devinKey: string;
  issuer: TestIssuer;
  database: TestDatabase;
  vhost: TestVhost;
  bus: TestBus;
  logs: ReturnType<typeof captureLogger>;
  /** The environment the service runs with (for a second instance or a child process). */
  env: Record<string, string>;
  api(): ReturnType<typeof request>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  env?: Record<string, string>;
  /** Sandbox time per scenario step. */
  stepMs?: number;
  /** Start no service (a test starts it elsewhere, a child process say). */
  withoutService?: boolean;
}

/** One test file's world: database, vhost, token issuer, Devin sandbox, the brain, a bus tap. */
export async function startWorld(options: WorldOptions = {}): Promise<BrainWorld> {
  const [database, vhost, issuer] = await Promise.all([
    createTestDatabase('brain'),
    createTestVhost('brain'),
    TestIssuer.start(),
  ]);
  const devinKey = `test-devin-${randomBytes(6).toString('hex')}`;
  const sandbox = createDevinSandbox({
    apiKey: devinKey,
    stepMs: options.stepMs ?? 20,
    retryAfterSeconds: 0,
  });
  const { url: devinUrl } = await sandbox.start(0);
  const env: Record<string, string> = {
    PORT: '0',
    DATABASE_URL: database.url,
    RABBITMQ_URL: vhost.url,
    LOG_LEVEL: 'debug',
    DEVIN_API_URL: devinUrl,
    DEVIN_API_KEY: devinKey,
    ...issuer.env,
    ...fastSettings,
    ...options.env,
  };
  const logs = captureLogger('brain-service');
  const bus = await TestBus.open(vhost.url);
  const service = options.withoutService
    ? (undefined as unknown as RunningBrainService)
    : await start({ env, logger: logs.logger });
  if (service) await whenReady(service.url);
  return {
    service,
    sandbox,
    devinKey,
    issuer,
    database,
    vhost,
    bus,
    logs,
    env,
    api: () => request(service.url),
    async stop() {
      await service?.stop();
      await bus.close();
      await sandbox.stop();
      await issuer.stop();
      await Promise.all([database.drop(), vhost.drop()]);
    },
  };
}

export interface PaymentData {
  paymentId: string;
  userId: string;
  plan: string;
  priceAmount: number;
  priceCurrency: string;
  payCurrency: string;
  actuallyPaid: number | null;
  agent: { name: string; instructions: string; repository?: string };
  autoDeploy: boolean;
  maxAcuLimit?: number;
  confirmedAt: string;
}

/** A payment.confirmed of `user`'s, with fresh ids; the instructions steer the Devin sandbox. */
export function confirmedPayment(
  user: Pick<TestUser, 'userId'>,
  overrides: Partial<Omit<PaymentData, 'agent'>> & { agent?: Partial<PaymentData['agent']> } = {},
): PaymentData {
  const { agent, ...rest } = overrides;
  const tag = randomBytes(3).toString('hex');
  return {
    paymentId: randomUUID(),
    userId: user.userId,
    plan: 'starter',
    priceAmount: 49,
    priceCurrency: 'usd',
    payCurrency: 'btc',
    actuallyPaid: 0.0012,
    autoDeploy: true,
    confirmedAt: new Date().toISOString(),
    ...rest,
    agent: {
      name: `Support bot ${tag}`,
      instructions: 'Answer customer questions from our help centre.',
      ...agent,
    },
  };
}

export async function publishConfirmed(
  world: BrainWorld,
  payment: PaymentData,
  options: { copies?: number } = {},
): Promise<string> {
  await world.bus.publishPayment(
    paymentEvents.confirmed.type,
    payment as unknown as PaymentData & Record<string, unknown>,
    options,
  );
  return agentIdFor(payment.paymentId);
}

/** GET /agents/:id as `user` until `check` passes on the body. */
export async function agentWhen(
  world: BrainWorld,
  user: TestUser,
  agentId: string,
  what: string,
  check: (agent: AgentDetail) => boolean,
  timeoutMs = 15_000,
): Promise<AgentDetail> {
  return eventually(
    what,
    async () => {
      const res = await world
        .api()
        .get(`/agents/${agentId}`)
        .set('Authorization', user.authorization);
      const body = res.body as AgentDetail;
      return res.status === 200 && check(body) && body;
    },
    timeoutMs,
  );
}

/** The sandbox's sessions that build this agent. */
export function sessionsOf(world: BrainWorld, agentId: string) {
  return world.sandbox.sessions().filter((s) => s.tags?.includes(`agent:${agentId}`));
}

/** The Devin API calls the brain made for one session (GET, message, DELETE). */
export function callsFor(world: BrainWorld, sessionId: string) {
  return world.sandbox.calls().filter((c) => c.path.includes(sessionId));
}

/** /readyz answers 200 once the consumer's queue is bound and the projections run. */
export async function whenReady(url: string, timeoutMs = 15_000): Promise<void> {
  await eventually(
    'the service to be ready',
    async () => (await request(url).get('/readyz')).status === 200,
    timeoutMs,
  );
}

/** Messages the payment-events consumer has finished with (handled, duplicate, retried, parked). */
export async function consumedCount(world: BrainWorld): Promise<number> {
  const text = (await request(world.service.url).get('/metrics')).text;
  return text
    .split('\n')
    .filter(
      (line) =>
        line.startsWith('bus_consumed_total{') &&
        line.includes(`queue="${queues.brainPaymentEvents}"`),
    )
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** Publishes through `publish`, then waits until the consumer has finished `count` more messages. */
export async function consumed(
  world: BrainWorld,
  count: number,
  publish: () => Promise<unknown>,
): Promise<void> {
  const before = await consumedCount(world);
  await publish();
  await eventually(
    `${count} message(s) consumed`,
    async () => (await consumedCount(world)) >= before + count,
  );
}
