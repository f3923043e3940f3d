/**
 * `npm run bench -- webhook`: verified NOWPayments IPNs per second through the real payment
 * service over real HTTP (signature check on the recursively key-sorted body, the IPN recorded
 * on the payment's stream and the status moved by the decider, the answer), with 32 concurrent
 * keep-alive connections, and their p99 latency; against a baseline express handler that parses
 * the same JSON and does one INSERT of it per request, in the same run, alternating rounds. Both
 * figures are judged against the baseline's: the rate as a ratio (target 0.8), the p99 as a
 * multiple of the baseline's p99 (target 1.5 at most), since on a busy machine the baseline
 * itself is slow and an absolute latency says more about the machine than about us.
 *
 * The service runs whole: its projections, relay (to a RabbitMQ vhost of its own) and invoice
 * policy work beside the webhook, as they do in production. Payments are opened beforehand
 * through POST /payments/create (NOWPayments sandbox in-process). Each payment receives the IPNs of
 * the paid scenario in order (confirming, confirmed, sending, finished), one at a time, like
 * NOWPayments sends them; the 32 connections work on different payments at once.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { type AddressInfo } from 'node:net';
import express from 'express';
import { paymentEventTypes } from '@meetmatt/contracts';
import { createDatabase, createLogger } from '@meetmatt/infra';
import { TestIssuer, createTestDatabase, createTestVhost } from '@meetmatt/infra/testing';
import { start } from '@meetmatt/payment-service';
import { createNowPaymentsSandbox } from '@meetmatt/payment-service/nowpayments/index';
import { signIpn } from '@meetmatt/payment-service/nowpayments/signature';
import { type BenchReport, percentile, runConcurrently } from './harness';

const CONNECTIONS = 32;
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 1_500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STATUSES = ['confirming', 'confirmed', 'sending', 'finished'] as const;
const SECRET = `bench-ipn-secret-${randomUUID()}`;
const API_KEY = `bench-api-key-${randomUUID()}`;

interface Ipn {
  body: string;
  signature: string;
}

interface RoundResult {
  perSecond: number;
  p50: number;
  p99: number;
  failures: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function post(url: URL, ipn: Ipn): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(ipn.body),
          'x-nowpayments-sig': ipn.signature,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(ipn.body);
  });
}

async function load(url: URL, ipns: Ipn[]): Promise<RoundResult> {
  const latencies: number[] = new Array<number>(ipns.length);
  let failures = 0;
  const seconds = await runConcurrently(ipns.length, CONNECTIONS, async (i) => {
    const started = process.hrtime.bigint();
    const status = await post(url, ipns[i]!);
    latencies[i] = Number(process.hrtime.bigint() - started) / 1e6;
    if (status !== 200) failures += 1;
  });
  latencies.sort((a, b) => a - b);
  return {
    perSecond: ipns.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures,
  };
}

/** A current IPN body, in NOWPayments' field order, for the n-th status of a payment. */
function ipnFor(payment: OpenedPayment, status: string, step: number): Ipn {
  const paid = payment.payAmount;
  const body = {
    payment_id: payment.providerPaymentId,
    parent_payment_id: null,
    invoice_id: null,
    payment_status: status,
    pay_address: payment.payAddress,
    payin_extra_id: null,
    price_amount: 49,
    price_currency: 'usd',
    pay_amount: paid,
    actually_paid: paid,
    actually_paid_at_fiat: 49,
    pay_currency: 'btc',
    order_id: payment.id,
    order_description: 'Starter agent: Support bot',
    purchase_id: String(payment.providerPaymentId + 1),
    outcome_amount: paid * 0.995,
    outcome_currency: 'btc',
    payment_extra_ids: null,
    fee: { currency: 'btc', depositFee: 0, withdrawalFee: 0, serviceFee: paid * 0.005 },
    updated_at: 1_767_225_600_000 + step,
  };
  return { body: JSON.stringify(body), signature: signIpn(body, SECRET) };
}

/** Each payment's IPNs in status order; consecutive requests go to different payments. */
function schedule(payments: OpenedPayment[]): Ipn[] {
  return STATUSES.flatMap((status, step) => payments.map((p) => ipnFor(p, status, step)));
}

interface OpenedPayment {
  id: string;
  providerPaymentId: number;
  payAmount: number;
  payAddress: string;
}

/** `count` payments opened through the API, 8 at a time. */
async function openPayments(
  serviceUrl: string,
  user: { authorization: string },
  count: number,
): Promise<OpenedPayment[]> {
  const payments = new Array<OpenedPayment>(count);
  await runConcurrently(count, 8, async (i) => {
    const res = await fetch(`${serviceUrl}/payments/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: user.authorization },
      body: JSON.stringify({
        plan: 'starter',
        payCurrency: 'btc',
        agent: { name: 'Support bot [sandbox:manual]', instructions: 'Answer from the docs' },
      }),
    });
    if (res.status !== 201) throw new Error(`POST /payments/create answered ${res.status}`);
    const body = (await res.json()) as {
      id: string;
      providerPaymentId: string;
      payAmount: number;
      payAddress: string;
    };
    payments[i] = { ...body, providerPaymentId: Number(body.providerPaymentId) };
  });
  return payments;
}

/** The baseline: the same JSON parsed by express, one INSERT, the same answer. */
async function startBaseline(databaseUrl: string) {
  const database = createDatabase({ url: databaseUrl, max: 10 });
  await database.pool.query(
    'CREATE TABLE ipns (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())',
  );
  const app = express();
  app.post('/webhooks/nowpayments', express.json({ limit: '64kb' }), async (req, res) => {
    await database.pool.query('INSERT INTO ipns (body) VALUES ($1)', [JSON.stringify(req.body)]);
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  server.keepAliveTimeout = 65_000;
  const url = new URL(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/nowpayments`,
  );
  return {
    url,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await database.close();
    },
  };
}

export default async function bench(): Promise<BenchReport> {
  const [serviceDb, baselineDb, vhost, issuer] = await Promise.all([
    createTestDatabase('bench_webhook'),
    createTestDatabase('bench_webhook_base'),
    createTestVhost('bench_webhook'),
    TestIssuer.start(),
  ]);
  // Payments are opened the way customers open them: POST /payments/create, against the
  // NOWPayments sandbox, told to leave them alone ([sandbox:manual]) so the IPNs are ours.
  const sandbox = createNowPaymentsSandbox({ apiKey: API_KEY, ipnSecret: SECRET, stepMs: 1_000 });
  const { url: sandboxUrl } = await sandbox.start(0);
  const service = await start({
    logger: createLogger({ service: 'payment-service', level: 'warn' }),
    env: {
      PORT: '0',
      DATABASE_URL: serviceDb.url,
      RABBITMQ_URL: vhost.url,
      NOWPAYMENTS_API_URL: sandboxUrl,
      NOWPAYMENTS_API_KEY: API_KEY,
      NOWPAYMENTS_IPN_SECRET: SECRET,
      RECONCILER_INTERVAL_MS: '0',
      LOG_LEVEL: 'warn',
      ...issuer.env,
    },
  });
  const baseline = await startBaseline(baselineDb.url);
  try {
    const url = new URL(`${service.url}/webhooks/nowpayments`);
    const ours: RoundResult[] = [];
    const base: RoundResult[] = [];
    let recorded = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const payments = await openPayments(service.url, await issuer.user(), PAYMENTS);
      const ipns = schedule(payments);
      base.push(await load(baseline.url, ipns));
      ours.push(await load(url, ipns));
      recorded += ipns.length;
    }

    // Every IPN was news: each must be on its payment's stream exactly once.
    const { rows } = await service.host.database.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM es_events WHERE event_type = $1',
      [paymentEventTypes.ipnReceived],
    );
    const evidence = rows[0]!.n;

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const fmt = (xs: number[], digits = 0) => xs.map((x) => x.toFixed(digits)).join(' / ');
    const oursRate = median(ours.map((r) => r.perSecond));
    const baseRate = median(base.map((r) => r.perSecond));
    const oursP99 = median(ours.map((r) => r.p99));
    const baseP99 = median(base.map((r) => r.p99));
    // Each round against the baseline round just before it, on the same machine state.
    const p99Multiples = ours.map((r, i) => r.p99 / base[i]!.p99);
    const failures = ours.reduce((n, r) => n + r.failures, 0);
    return {
      name: 'webhook',
      unit: 'IPNs/s',
      ours: oursRate,
      baseline: baseRate,
      rows: [
        {
          label: `verified IPNs, ${CONNECTIONS} connections (median)`,
          'per second': Math.round(oursRate),
          'p50 ms': median(ours.map((r) => r.p50)),
          'p99 ms': oursP99,
          runs: fmt(ours.map((r) => r.perSecond)),
          'p99 runs': fmt(
            ours.map((r) => r.p99),
            1,
          ),
        },
        {
          label: 'baseline: express + one INSERT',
          'per second': Math.round(baseRate),
          'p50 ms': median(base.map((r) => r.p50)),
          'p99 ms': baseP99,
          runs: fmt(base.map((r) => r.perSecond)),
          'p99 runs': fmt(
            base.map((r) => r.p99),
            1,
          ),
        },
      ],
      notes: [
        `${(PAYMENTS * STATUSES.length).toLocaleString('en-US')} IPNs per run (${PAYMENTS.toLocaleString('en-US')} payments × ${STATUSES.join(', ')}), ${ROUNDS} runs each, baseline then ours.`,
        `Answers other than 200 from ours: ${failures}. IPNs recorded as evidence: ${evidence.toLocaleString('en-US')} of ${recorded.toLocaleString('en-US')} sent.`,
        `p99 as a multiple of the baseline's: ${(oursP99 / baseP99).toFixed(2)} (medians); round by round ${fmt(p99Multiples, 2)}.`,
        `Targets: ratio >= 0.8 of the baseline (this run: ${(oursRate / baseRate).toFixed(2)}, ${oursRate / baseRate >= 0.8 ? 'met' : 'not met'}); p99 at most 1.5 x the baseline's (this run: ${(oursP99 / baseP99).toFixed(2)}, ${oursP99 / baseP99 <= 1.5 ? 'met' : 'not met'}).`,
      ],
    };
  } finally {
    agent.destroy();
    await baseline.stop();
    await sandbox.stop();
    await service.stop();
    await issuer.stop();
    await Promise.all([serviceDb.drop(), baselineDb.drop(), vhost.drop()]);
  }
}
