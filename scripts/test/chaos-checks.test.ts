import { randomUUID } from 'node:crypto';
import { type Database, createDatabase, migrateAll } from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { type DevinSandbox, createDevinSandbox } from '@meetmatt/brain-service/devin/index';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { createNowPaymentsSandbox } from '@meetmatt/payment-service/nowpayments/index';
import {
  brainProblems,
  journeyProblems,
  paymentProblems,
  webhookProblems,
} from '../src/chaos/checks';
import { type JourneyRecord, type ScenarioName } from '../src/chaos/journeys';
import { pollUntil } from '@meetmatt/infra/runtime/poll';

// The fault suite is only as good as its checks: each must name what it is there to catch.

let testDb: TestDatabase;
let database: Database;
let devin: DevinSandbox;
let devinUrl: string;
const devinKey = `devin-${randomUUID()}`;

beforeAll(async () => {
  testDb = await createTestDatabase('chaos_checks');
  database = createDatabase({ url: testDb.url, max: 2 });
  await migrateAll(database.db, {});
  devin = createDevinSandbox({ apiKey: devinKey, stepMs: 10_000 });
  devinUrl = (await devin.start(0)).url;
});

// Each test reads the whole store, as the run does: it starts empty.
beforeEach(async () => {
  await database.pool.query('TRUNCATE es_events');
});

afterAll(async () => {
  await devin.stop();
  await database.close();
  await testDb.drop();
});

async function append(streamId: string, type: string, data: Record<string, unknown>) {
  const { rows } = await database.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM es_events WHERE stream_id = $1',
    [streamId],
  );
  await database.pool.query(
    `INSERT INTO es_events (event_id, stream_id, stream_revision, event_type, data, metadata)
     VALUES ($1, $2, $3, $4, $5, '{}')`,
    [randomUUID(), streamId, Number(rows[0]!.n), type, data],
  );
}

function journey(scenario: ScenarioName, overrides: Partial<JourneyRecord> = {}): JourneyRecord {
  const paymentId = randomUUID();
  const finalStatus = { paid: 'finished', failed: 'failed' }[scenario as 'paid' | 'failed'];
  return { index: 0, scenario, paymentId, finalStatus, startedAt: 0, endedAt: 1, ...overrides };
}

describe('chaos checks', () => {
  test('when a journey failed or its payment ended other than its scenario says, then each is a problem', () => {
    const ok = journey('paid');
    const failed = journey('paid', { index: 1, error: 'create payment answered 500' });
    const wrong = journey('failed', { index: 2, finalStatus: 'finished' });
    expect(journeyProblems([ok, failed, wrong])).toEqual([
      'journey 1 (paid) failed: create payment answered 500',
      `journey 2 (failed): payment ${wrong.paymentId} ended finished, expected failed`,
    ]);
  });

  test('when a paid payment is confirmed twice without an invoice and an unpaid one is confirmed, then the payment check names each', async () => {
    const paid = journey('paid');
    const unpaid = journey('failed');
    const { paymentId: p } = paid;
    const { paymentId: u } = unpaid;
    await append(`payment-${p}`, 'payment.confirmed', { paymentId: p });
    await append(`payment-${p}`, 'payment.confirmed', { paymentId: p });
    await append(`payment-${u}`, 'payment.failed', { paymentId: u });
    await append(`payment-${u}`, 'payment.confirmed', { paymentId: u });

    const problems = await paymentProblems([paid, unpaid], testDb.url);

    expect(problems).toEqual(
      expect.arrayContaining([
        `paid ${p} (paid): confirmed 2 times`,
        `paid ${p}: 0 invoices`,
        `unpaid ${u} (failed): payment.confirmed recorded`,
        `payment ${u}, which no paid journey made, was confirmed`,
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  test('when a paid payment has its confirmation and invoice once, then the payment check finds nothing', async () => {
    const paid = journey('paid');
    const p = paid.paymentId!;
    await append(`payment-${p}`, 'payment.confirmed', { paymentId: p });
    await append(`payment-${p}`, 'payment.invoice-issued', { paymentId: p });

    expect(await paymentProblems([paid], testDb.url)).toEqual([]);
  });

  test('when a paid payment has an agent never deployed and its Devin session was started twice, then the brain check names both', async () => {
    const paid = journey('paid');
    const p = paid.paymentId!;
    const agent = randomUUID();
    await append(`agent-${agent}`, 'agent.deploy-requested', { paymentId: p });
    for (const _ of [1, 2]) {
      await append(`agent-${agent}`, 'agent.session-started', {
        sessionId: 's',
        build: 1,
        attempt: 1,
      });
      const res = await fetch(`${devinUrl}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${devinKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          prompt: 'build it',
          tags: ['meetmatt', `agent:${agent}`, 'build:1', 'attempt:1'],
        }),
      });
      expect(res.ok).toBe(true);
    }

    const problems = await brainProblems([paid], {
      brainDatabaseUrl: testDb.url,
      devinSandboxUrl: devinUrl,
    });

    expect(problems).toEqual([
      `agent-${agent} (payment ${p}): deployed 0 times`,
      `agent-${agent} build 1 attempt 1: agent.session-started recorded 2 times`,
      expect.stringMatching(
        new RegExp(`^Devin sessions started twice for agent:${agent} build:1 attempt:1: `),
      ),
    ]);
  });

  test('when our webhook answered an IPN 500 and another 503, then only the 500 is a problem', async () => {
    const answers = [503, 500, 200];
    const webhook = http.createServer((_req, res) => {
      res.statusCode = answers.shift() ?? 200;
      res.end(res.statusCode === 500 ? 'Connection terminated unexpectedly' : '');
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/`;
    const sandbox = createNowPaymentsSandbox({ apiKey: 'np', ipnSecret: 'secret', stepMs: 5 });
    const { url } = await sandbox.start(0);
    try {
      const res = await fetch(`${url}/v1/payment`, {
        method: 'POST',
        headers: { 'x-api-key': 'np', 'content-type': 'application/json' },
        body: JSON.stringify({
          price_amount: 49,
          price_currency: 'usd',
          pay_currency: 'btc',
          order_id: randomUUID(),
          order_description: '[sandbox:expired]',
          ipn_callback_url: webhookUrl,
        }),
      });
      expect(res.status).toBe(201);
      await pollUntil(() => answers.length === 0, { timeoutMs: 10_000 });
      expect(answers).toEqual([]);

      expect(await webhookProblems(url)).toEqual([
        'the webhook answered 500 to 1 IPN attempts, e.g. Connection terminated unexpectedly',
      ]);
    } finally {
      await sandbox.stop();
      await new Promise((resolve) => webhook.close(resolve));
    }
  });
});
