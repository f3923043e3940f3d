import { randomUUID } from 'node:crypto';
import { AuthResponseSchema, CreatePaymentResponseSchema } from '@meetmatt/contracts';
import { type CallFigures, JourneyClient } from './client';
import { sleep } from '@meetmatt/infra';

/**
 * The NOWPayments scenarios a chaos run mixes, played by the sandbox from markers in the agent's
 * name (payment-service/src/nowpayments/sandbox-scenarios.ts).
 */
export const SCENARIOS = {
  paid: { markers: ['paid'], final: 'finished' },
  duplicate: { markers: ['paid', 'duplicate'], final: 'finished' },
  reversed: { markers: ['paid', 'reverse'], final: 'finished' },
  'lost-ipn': { markers: ['paid', 'lost-ipn'], final: 'finished' },
  'partially-paid': { markers: ['partially-paid'], final: 'partially_paid' },
  failed: { markers: ['failed'], final: 'failed' },
} as const;

export type ScenarioName = keyof typeof SCENARIOS;

/** One cycle of the mix: every scenario, paid ones more often. */
const MIX: ScenarioName[] = [
  'paid',
  'duplicate',
  'reversed',
  'lost-ipn',
  'partially-paid',
  'paid',
  'failed',
  'duplicate',
  'reversed',
  'lost-ipn',
];

export function scenarioOf(index: number): ScenarioName {
  return MIX[index % MIX.length]!;
}

export function isPaid(scenario: ScenarioName): boolean {
  return SCENARIOS[scenario].final === 'finished';
}

export interface JourneyRecord {
  index: number;
  scenario: ScenarioName;
  userId?: string;
  paymentId?: string;
  /** The final status the journey saw through the API. */
  finalStatus?: string;
  /** Why the journey could not go on (it could not register, log in, pay, or see its payment end). */
  error?: string;
  startedAt: number;
  endedAt?: number;
}

const FINAL = new Set(['finished', 'partially_paid', 'failed', 'expired', 'refunded']);

/**
 * One customer, through the gateway: sign up, log in, buy an agent (the sandbox playing the
 * scenario), and watch the payment until it ends. What follows a payment (invoice, agent,
 * deployment) is checked from the event stores once the system has settled.
 */
export async function runChaosJourney(
  record: JourneyRecord,
  options: { baseUrl: string; callBudgetMs: number; timeoutMs: number; figures: CallFigures },
): Promise<void> {
  const client = new JourneyClient(options.baseUrl, options.callBudgetMs, options.figures);
  const email = `chaos+${randomUUID().slice(0, 12)}@example.com`;
  const password = `chaos horse ${randomUUID()}`;

  const registered = await client.call('POST', '/auth/register', {
    body: { email, password, displayName: `Chaos ${record.index}` },
  });
  // 409: an earlier attempt whose answer was lost got through; logging in tells.
  if (registered.status !== 201 && registered.status !== 409) {
    throw new Error(`register answered ${registered.status} ${brief(registered.body)}`);
  }
  const login = await client.call('POST', '/auth/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`login answered ${login.status} ${brief(login.body)}`);
  const { accessToken, user } = AuthResponseSchema.parse(login.body);
  record.userId = user.id;

  const markers = SCENARIOS[record.scenario].markers.map((m) => `[sandbox:${m}]`).join(' ');
  const created = await client.call('POST', '/payments/create', {
    token: accessToken,
    retryConflict: true,
    headers: { 'idempotency-key': randomUUID(), 'x-request-id': `chaos-${randomUUID()}` },
    body: {
      plan: 'starter',
      payCurrency: 'btc',
      agent: { name: `Chaos ${record.index} ${markers}`, instructions: 'Answer support emails.' },
      autoDeploy: true,
    },
  });
  if (created.status !== 201 && created.status !== 200) {
    throw new Error(`create payment answered ${created.status} ${brief(created.body)}`);
  }
  const payment = CreatePaymentResponseSchema.parse(created.body);
  record.paymentId = payment.id;

  const deadline = Date.now() + options.timeoutMs;
  for (let wait = 250; ; wait = Math.min(wait * 1.5, 2_000)) {
    const res = await client.call('GET', `/payments/${payment.id}/status`, { token: accessToken });
    // The create answered before its projection caught up (its wait is bounded): the payment is
    // recorded, and shows up once the projection gets there. Counted, not fatal.
    if (res.status === 404) {
      options.figures.answers.set(
        'status 404 after create',
        (options.figures.answers.get('status 404 after create') ?? 0) + 1,
      );
    } else if (res.status !== 200) throw new Error(`payment status answered ${res.status}`);
    const status = res.status === 200 ? (res.body as { status?: string }).status : undefined;
    if (status && FINAL.has(status)) {
      record.finalStatus = status;
      return;
    }
    if (Date.now() + wait > deadline) {
      throw new Error(`payment still ${status} after ${options.timeoutMs / 1000} s`);
    }
    await sleep(wait);
  }
}

function brief(body: unknown): string {
  return JSON.stringify(body ?? null).slice(0, 200);
}
