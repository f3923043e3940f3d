/**
 * `npm run bench -- flow` (`-- flow --quick`, or BENCH_QUICK=1, for a short run): paid to
 * deploy requested, through the whole system as `npm start` runs it (flow/system.ts).
 *
 * Payments are opened beforehand through the gateway (the NOWPayments sandbox leaves
 * `[sandbox:manual]` ones waiting); then one signed `finished` IPN per payment goes to the
 * gateway at a fixed offered rate, open loop (sent on schedule, whatever the answers). The times
 * come from the event stores' own timestamps: `payment.confirmed` in the payment store,
 * `agent.deploy-requested` in the brain's, the IPN's send time from this client; the bus hops
 * between them from the relay's and the consumer's hop trace (BUS_HOP_TRACE_FILE).
 *
 * Rates: 20/s and 100/s (20 s each), then rising (150, 200, 300, 400, 600; 10 s each) until a
 * queue builds. A rate holds (no queue) when confirmed → deploy requested stays bounded (p99
 * under 1 s, the last quarter's p50 not above twice the first quarter's + 20 ms) and the backlog
 * has drained within 2 s of the last IPN. The knee is the highest rate that holds.
 *
 * Baseline, same run: the same hop built by hand (flow/baseline.ts) at 100/s.
 * Last line: {"name":"flow","ours":<p99 ms confirmed → deploy requested at 100/s>,"baseline":…}.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { agentEvents, paymentEvents, queues } from '@meetmatt/contracts';
import { sleep } from '@meetmatt/infra/runtime/backoff';
import { pollUntil } from '@meetmatt/infra/runtime/poll';
import { createTestDatabase, createTestVhost } from '@meetmatt/infra/testing';
import { signIpn } from '@meetmatt/payment-service/nowpayments/signature';
import { type BenchReport, printTable, runConcurrently } from './harness';
import { baselineHop } from './flow/baseline';
import { openLoop } from './flow/open-loop';
import { type Spread, ms, pair, spread } from './flow/stats';
import { type FlowSystem, startFlowSystem } from './flow/system';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const RATES = QUICK ? [20, 100, 200] : [20, 100, 150, 200, 300, 400, 600];
/** Seconds per rate: the two fixed rates, then the rising ones. */
const FIXED_SECONDS = Number(process.env.BENCH_FLOW_SECONDS ?? (QUICK ? 5 : 20));
const RISING_SECONDS = Number(process.env.BENCH_FLOW_RISING_SECONDS ?? (QUICK ? 5 : 10));
/** No rising rate starts after this long, so a whole run stays under six minutes. */
const RISING_BUDGET_MS = Number(process.env.BENCH_FLOW_BUDGET_MS ?? 240_000);
const HEADLINE_RATE = 100;
/** How long the deploys of a rate may take to arrive after its last IPN before they are lost. */
const DRAIN_TIMEOUT_MS = 60_000;

const agent = new Agent({ keepAlive: true, maxSockets: 512 });
const now = () => performance.timeOrigin + performance.now();

interface OpenedPayment {
  id: string;
  providerPaymentId: number;
  payAmount: number;
  payAddress: string;
  priceAmount: number;
}

interface RateResult {
  /** The payments of this rate (their deploys are counted once more at the end). */
  ids: string[];
  rate: number;
  seconds: number;
  answer: Spread;
  toConfirmed: Spread;
  toDeploy: Spread;
  early: Spread;
  late: Spread;
  drainMs: number;
  lost: number;
  duplicated: number;
  refused: number;
  holds: boolean;
  /** Off the hot path: deploy requested → Devin session started, and how many had started. */
  toSession: Spread;
  hops: { name: string; spread: Spread }[];
}

function post(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function signIn(gateway: string): Promise<string> {
  const email = `flow+${randomUUID().slice(0, 8)}@example.com`;
  const password = `correct horse ${randomUUID()}`;
  const registered = await post(
    `${gateway}/auth/register`,
    JSON.stringify({ email, password, displayName: 'Flow Bench' }),
    {},
  );
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
  const login = await post(`${gateway}/auth/login`, JSON.stringify({ email, password }), {});
  if (login.status !== 200) throw new Error(`login answered ${login.status}`);
  return (JSON.parse(login.text) as { accessToken: string }).accessToken;
}

/** `count` payments opened through the gateway, 16 at a time, left waiting by the sandbox. */
async function openPayments(
  gateway: string,
  token: string,
  count: number,
): Promise<OpenedPayment[]> {
  const payments = new Array<OpenedPayment>(count);
  await runConcurrently(count, 16, async (i) => {
    const res = await post(
      `${gateway}/payments/create`,
      JSON.stringify({
        plan: 'starter',
        payCurrency: 'btc',
        agent: { name: 'Flow bot [sandbox:manual]', instructions: 'Answer from the docs' },
        autoDeploy: true,
      }),
      { authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() },
    );
    if (res.status !== 201)
      throw new Error(`POST /payments/create answered ${res.status} ${res.text.slice(0, 200)}`);
    const body = JSON.parse(res.text) as Omit<OpenedPayment, 'providerPaymentId'> & {
      providerPaymentId: string;
    };
    payments[i] = { ...body, providerPaymentId: Number(body.providerPaymentId) };
  });
  return payments;
}

/** A `finished` IPN paying the whole amount, signed as the sandbox signs (HMAC-SHA512, sorted keys). */
function finishedIpn(payment: OpenedPayment, secret: string): { body: string; signature: string } {
  const paid = payment.payAmount;
  const body = {
    payment_id: payment.providerPaymentId,
    parent_payment_id: null,
    invoice_id: null,
    payment_status: 'finished',
    pay_address: payment.payAddress,
    payin_extra_id: null,
    price_amount: payment.priceAmount,
    price_currency: 'usd',
    pay_amount: paid,
    actually_paid: paid,
    actually_paid_at_fiat: payment.priceAmount,
    pay_currency: 'btc',
    order_id: payment.id,
    order_description: 'Starter agent: Flow bot',
    purchase_id: String(payment.providerPaymentId + 1),
    outcome_amount: paid * 0.995,
    outcome_currency: 'btc',
    payment_extra_ids: null,
    fee: { currency: 'btc', depositFee: 0, withdrawalFee: 0, serviceFee: paid * 0.005 },
    updated_at: Date.now(),
  };
  return { body: JSON.stringify(body), signature: signIpn(body, secret) };
}

interface StoredEvent {
  eventId: string;
  paymentId: string;
  at: number;
}

async function eventsOf(pool: pg.Pool, type: string, paymentIds: string[]): Promise<StoredEvent[]> {
  const { rows } = await pool.query<{ event_id: string; payment_id: string; at: string }>(
    `SELECT event_id, data->>'paymentId' AS payment_id,
            extract(epoch FROM created_at) * 1000 AS at
       FROM es_events WHERE event_type = $1 AND data->>'paymentId' = ANY($2)`,
    [type, paymentIds],
  );
  return rows.map((r) => ({ eventId: r.event_id, paymentId: r.payment_id, at: Number(r.at) }));
}

/** Deploy requested → the first Devin session started, per agent that has one by now. */
async function sessionsStarted(brain: pg.Pool, paymentIds: string[]): Promise<Spread> {
  const { rows } = await brain.query<{ ms: string }>(
    `SELECT extract(epoch FROM min(s.created_at) - min(d.created_at)) * 1000 AS ms
       FROM es_events d JOIN es_events s ON s.stream_id = d.stream_id AND s.event_type = $2
      WHERE d.event_type = $1 AND d.data->>'paymentId' = ANY($3)
      GROUP BY d.stream_id`,
    [agentEvents.deployRequested.type, agentEvents.sessionStarted.type, paymentIds],
  );
  return spread(rows.map((r) => Number(r.ms)));
}

/** Waits until the brain has recorded every opened payment (so their events are off the bus). */
async function brainKnows(brain: pg.Pool, ids: string[]): Promise<void> {
  let known = 0;
  const polled = await pollUntil(
    async () => {
      const { rows } = await brain.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM payments WHERE payment_id = ANY($1)',
        [ids],
      );
      known = rows[0]!.n;
      return known === ids.length;
    },
    { timeoutMs: 120_000, intervalMs: 100, maxIntervalMs: 500 },
  );
  if (!polled.passed) throw new Error(`the brain knows ${known} of ${ids.length} opened payments`);
}

interface RelayHopLine {
  hop: 'relay';
  ids: string[];
  seen: number;
  published: number;
  confirmed: number;
}
interface ConsumeHopLine {
  hop: 'consume';
  queue: string;
  id: string;
  delivered: number;
  handled: number;
}

function readHops(file: string): (RelayHopLine | ConsumeHopLine)[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as RelayHopLine | ConsumeHopLine);
}

/** Per hop, from `payment.confirmed` committed to `agent.deploy-requested` appended and acked. */
function hopBreakdown(
  system: FlowSystem,
  confirmed: StoredEvent[],
  deployAt: Map<string, number>,
): { name: string; spread: Spread }[] {
  const relay = new Map<string, RelayHopLine>();
  for (const line of readHops(system.traceFile('payment-service')))
    if (line.hop === 'relay') for (const id of line.ids) relay.set(id, line);
  const consume = new Map<string, ConsumeHopLine>();
  for (const line of readHops(system.traceFile('brain-service')))
    if (line.hop === 'consume' && line.queue === queues.brainPaymentEvents && !consume.has(line.id))
      consume.set(line.id, line);
  const hops: Record<string, number[]> = {
    'committed → seen by relay': [],
    'seen → published': [],
    'published → confirmed': [],
    'published → delivered': [],
    'delivered → appended': [],
    'appended → handled': [],
  };
  for (const event of confirmed) {
    const r = relay.get(event.eventId);
    const c = consume.get(event.eventId);
    const appended = deployAt.get(event.paymentId);
    if (!r || !c || appended === undefined) continue;
    hops['committed → seen by relay']!.push(r.seen - event.at);
    hops['seen → published']!.push(r.published - r.seen);
    hops['published → confirmed']!.push(r.confirmed - r.published);
    hops['published → delivered']!.push(c.delivered - r.published);
    hops['delivered → appended']!.push(appended - c.delivered);
    hops['appended → handled']!.push(c.handled - appended);
  }
  return Object.entries(hops).map(([name, values]) => ({ name, spread: spread(values) }));
}

async function runRate(
  system: FlowSystem,
  pools: { payment: pg.Pool; brain: pg.Pool },
  token: string,
  rate: number,
  seconds: number,
): Promise<RateResult> {
  const gateway = system.running.gatewayUrl;
  const count = Math.round(rate * seconds);
  const payments = await openPayments(gateway, token, count);
  const ids = payments.map((p) => p.id);
  await brainKnows(pools.brain, ids);
  const ipns = payments.map((p) => finishedIpn(p, system.ipnSecret));
  const sentAt = new Array<number>(count);
  const answerMs: number[] = [];
  let refused = 0;
  await openLoop(rate, count, async (i) => {
    const { body, signature } = ipns[i]!;
    const sent = now();
    sentAt[i] = sent;
    const res = await post(`${gateway}/webhooks/nowpayments`, body, {
      'x-nowpayments-sig': signature,
    });
    answerMs.push(now() - sent);
    if (res.status !== 200) refused += 1;
  });
  const lastSent = Math.max(...sentAt);

  // Wait for every deploy, while they keep coming.
  let deployed: StoredEvent[] = [];
  let progressAt = Date.now();
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const found = await eventsOf(pools.brain, agentEvents.deployRequested.type, ids);
    if (found.length > deployed.length) progressAt = Date.now();
    deployed = found;
    if (new Set(found.map((e) => e.paymentId)).size >= count) break;
    if (Date.now() > deadline || Date.now() - progressAt > 15_000) break;
    await sleep(200);
  }
  const confirmed = await eventsOf(pools.payment, paymentEvents.confirmed.type, ids);
  const toSession = await sessionsStarted(pools.brain, ids);

  const sentOf = new Map(payments.map((p, i) => [p.id, sentAt[i]!]));
  const confirmedAt = new Map<string, number>();
  for (const e of confirmed) if (!confirmedAt.has(e.paymentId)) confirmedAt.set(e.paymentId, e.at);
  const deployAt = new Map<string, number>();
  for (const e of deployed) if (!deployAt.has(e.paymentId)) deployAt.set(e.paymentId, e.at);

  const toConfirmed = [...confirmedAt].map(([id, at]) => at - sentOf.get(id)!);
  // In send order, to tell a queue that grows during the rate from steady latency.
  const toDeploy = ids
    .filter((id) => confirmedAt.has(id) && deployAt.has(id))
    .map((id) => deployAt.get(id)! - confirmedAt.get(id)!);
  const quarter = Math.max(1, Math.floor(toDeploy.length / 4));
  const early = spread(toDeploy.slice(0, quarter));
  const late = spread(toDeploy.slice(-quarter));
  const deploySpread = spread(toDeploy);
  const drainMs = Math.max(0, Math.max(...deployAt.values()) - lastSent);
  const lost = count - deployAt.size;
  const duplicated = confirmed.length - confirmedAt.size + (deployed.length - deployAt.size);
  const holds =
    lost === 0 && deploySpread.p99 < 1_000 && late.p50 <= 2 * early.p50 + 20 && drainMs < 2_000;
  // The services write their hop traces every 200 ms (HopTrace): let the last lines land.
  await sleep(400);
  return {
    ids,
    rate,
    seconds,
    answer: spread(answerMs),
    toConfirmed: spread(toConfirmed),
    toDeploy: deploySpread,
    early,
    late,
    drainMs,
    lost,
    duplicated,
    refused,
    holds,
    toSession,
    hops: hopBreakdown(system, confirmed, deployAt),
  };
}

export default async function bench(): Promise<BenchReport> {
  const started = Date.now();
  const system = await startFlowSystem();
  const pools = {
    payment: new pg.Pool({ connectionString: system.databases.payment, max: 2 }),
    brain: new pg.Pool({ connectionString: system.databases.brain, max: 2 }),
  };
  // A lost idle connection fails the next query, which says so; unheard, it would crash the run.
  for (const pool of Object.values(pools)) pool.on('error', () => undefined);
  const results: RateResult[] = [];
  let base: Awaited<ReturnType<typeof baselineHop>>;
  let lostInTheEnd = 0;
  let stoppedEarly: number | undefined;
  let twiceInTheEnd = 0;
  try {
    const token = await signIn(system.running.gatewayUrl);
    const [baseDb, baseVhost] = await Promise.all([
      createTestDatabase('bench_flow_base'),
      createTestVhost('bench_flow_base'),
    ]);
    try {
      base = await baselineHop(baseDb.url, baseVhost.url, HEADLINE_RATE, FIXED_SECONDS);
    } finally {
      await Promise.all([baseDb.drop(), baseVhost.drop()]);
    }
    for (const rate of RATES) {
      const fixed = rate <= HEADLINE_RATE;
      if (!fixed && Date.now() - started > RISING_BUDGET_MS) {
        stoppedEarly = rate;
        break;
      }
      const result = await runRate(
        system,
        pools,
        token,
        rate,
        fixed ? FIXED_SECONDS : RISING_SECONDS,
      );
      results.push(result);
      process.stderr.write(
        `flow: ${rate}/s confirmed → deploy requested p50 ${ms(result.toDeploy.p50)} p99 ${ms(result.toDeploy.p99)} ms, ${result.holds ? 'holds' : 'queue builds'}\n`,
      );
      if (!fixed && !result.holds) break;
    }
    // Late is not lost: whatever a rate's wait gave up on must have arrived by now.
    const all = results.flatMap((r) => r.ids);
    await pollUntil(
      async () =>
        (await eventsOf(pools.brain, agentEvents.deployRequested.type, all)).length >= all.length,
      { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 500 },
    );
    const finalDeploys = await eventsOf(pools.brain, agentEvents.deployRequested.type, all);
    const finalIds = new Set(finalDeploys.map((e) => e.paymentId));
    lostInTheEnd = all.length - finalIds.size;
    twiceInTheEnd = finalDeploys.length - finalIds.size;
  } finally {
    agent.destroy();
    await Promise.all([pools.payment.end(), pools.brain.end()]);
    await system.stop();
  }

  const headline = results.find((r) => r.rate === HEADLINE_RATE)!;
  const knee = results.filter((r) => r.holds).reduce((k, r) => Math.max(k, r.rate), 0);
  const report: BenchReport = {
    name: 'flow',
    unit: 'ms',
    ours: headline.toDeploy.p99,
    baseline: base.p99,
    rows: [
      ...results.map((r) => ({
        label: `${r.rate} IPNs/s, ${r.seconds} s`,
        'IPN answer p50 / p99': pair(r.answer),
        'IPN → confirmed p50 / p99': pair(r.toConfirmed),
        'confirmed → deploy p50 / p99 / max': `${pair(r.toDeploy)} / ${ms(r.toDeploy.max)}`,
        'first / last quarter p50': `${ms(r.early.p50)} / ${ms(r.late.p50)}`,
        'drain ms': Math.round(r.drainMs),
        'lost / twice': `${r.lost} / ${r.duplicated}`,
        'deploy → Devin session p50 / p99 (started)': `${pair(r.toSession)} (${r.toSession.n})`,
        queue: r.holds ? 'no' : 'yes',
      })),
      {
        label: `baseline: INSERT, publish+confirm, consume, INSERT at ${HEADLINE_RATE}/s`,
        'confirmed → deploy p50 / p99 / max': `${pair(base)} / ${ms(base.max)}`,
        'lost / twice': `${base.lost} / 0`,
      },
    ],
    notes: [
      'Per hop, p50 / p99 ms (relay and consumer hop trace; committed and appended are the stores’ created_at):',
      ...results.map(
        (r) =>
          `  ${String(r.rate).padStart(4)}/s  ${r.hops.map((h) => `${h.name} ${pair(h.spread)}`).join(' | ')}`,
      ),
      `In the end (after up to ${DRAIN_TIMEOUT_MS / 1000} s more): ${lostInTheEnd} payments without a deploy request, ${twiceInTheEnd} with two.`,
      `Knee (highest rate without a queue): ${knee} IPNs/s${stoppedEarly ? ` (or more: ${stoppedEarly}/s and up not tried, out of time)` : ''}. Answers other than 200: ${results.reduce((n, r) => n + r.refused, 0)}.`,
      `Targets at 100/s: confirmed → deploy p99 < 100 ms (${ms(headline.toDeploy.p99)}), IPN answer p99 < 50 ms (${ms(headline.answer.p99)}); at 20/s p50 < 10 ms, p99 < 30 ms (${pair(results[0]!.toDeploy)}); knee ≥ 200.`,
      `${QUICK ? 'Quick run' : 'Full run'}, ${Math.round((Date.now() - started) / 1000)} s in all.`,
    ],
  };
  const broken = results.filter((r) => r.duplicated > 0 || r.refused > 0);
  if (broken.length > 0 || base.lost > 0 || lostInTheEnd > 0 || twiceInTheEnd > 0) {
    printTable(report);
    throw new Error(
      `lost, duplicated or refused: ${broken.map((r) => `${r.rate}/s`).join(', ') || 'see the notes'}`,
    );
  }
  return report;
}
