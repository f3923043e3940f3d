import { randomUUID } from 'node:crypto';
import { PaymentStatusSchema, paymentEvents } from '@meetmatt/contracts';
import { paymentStatusChoices } from '../../src/cli/commands/specs';
import {
  type CliFixture,
  appendAll,
  createCliFixture,
  failureLine,
  jsonOf,
  newEvent,
  runCli,
} from '../support/cli';

// Every command is a process of its own: see streams.test.ts.
jest.setTimeout(120_000);

let fixture: CliFixture;
const userId = randomUUID();
const NOW = '2026-12-02T06:00:00.000Z';

/** A payment's events as payment-service writes them, ending in `finished` or not accepted. */
function paymentJourney(ending: 'finished' | 'underpaid' | 'mismatched') {
  const paymentId = randomUUID();
  const base = { paymentId, userId };
  const events = [
    newEvent(paymentEvents.created.type, {
      ...base,
      plan: 'starter',
      priceAmount: 49,
      priceCurrency: 'usd',
      payCurrency: 'btc',
      payAmount: 0.0008,
      payAddress: 'bc1qtest',
      payinExtraId: null,
      providerPaymentId: '5077125051',
      expiresAt: null,
      agent: { name: 'Support bot', instructions: 'Answer from the docs' },
      autoDeploy: true,
      createdAt: NOW,
    }),
    newEvent(paymentEvents.statusChanged.type, {
      ...base,
      from: 'waiting',
      to: ending,
      source: 'webhook',
      providerStatus: 'finished',
      actuallyPaid: ending === 'underpaid' ? 0.000008 : 0.0008,
      changedAt: NOW,
    }),
  ];
  if (ending === 'underpaid') {
    events.push(
      newEvent(paymentEvents.underpaid.type, {
        ...base,
        payCurrency: 'btc',
        payAmount: 0.0008,
        actuallyPaid: 0.000008,
        shortfall: 0.000792,
        tolerance: 0.005,
        providerPaymentId: '5077125051',
        providerStatus: 'finished',
        at: NOW,
      }),
    );
  }
  if (ending === 'mismatched') {
    events.push(
      newEvent(paymentEvents.mismatched.type, {
        ...base,
        mismatches: [{ field: 'payCurrency', expected: 'btc', actual: 'usdttrc20' }],
        providerPaymentId: '5077125051',
        providerStatus: 'finished',
        at: NOW,
      }),
    );
  }
  return { paymentId, events };
}

/** A payment nobody paid, opened at `at`; with a refund asked for when `refund` is set. */
function openPayment(at: string, refund = false) {
  const paymentId = randomUUID();
  const { events } = paymentJourney('finished');
  const created = events[0]!;
  const data = { ...(created.data as Record<string, unknown>), paymentId, createdAt: at };
  const opened = [newEvent(paymentEvents.created.type, data)];
  if (refund)
    opened.push(
      newEvent(paymentEvents.refundRequested.type, {
        paymentId,
        userId,
        reason: 'the customer changed their mind',
        requestedBy: 'operator',
        operatorId: randomUUID(),
        requestedAt: at,
      }),
    );
  return { paymentId, events: opened };
}

const journeys = {
  underpaid: paymentJourney('underpaid'),
  mismatched: paymentJourney('mismatched'),
  finished: paymentJourney('finished'),
  waitingLong: openPayment(NOW),
  waitingNow: openPayment(new Date().toISOString()),
  refundRequested: openPayment(NOW, true),
};

beforeAll(async () => {
  fixture = await createCliFixture('cli_payments');
  for (const { paymentId, events } of Object.values(journeys))
    await appendAll(fixture.services.payment.store, `payment-${paymentId}`, events);
  const built = await runCli(
    ['projections', 'rebuild', 'payments', '--service', 'payment', '--yes'],
    fixture.env,
  );
  expect(built.code).toBe(0);
});

afterAll(async () => {
  await fixture?.drop();
});

test('when an operator lists underpaid payments, then each is shown with what arrived beside what was asked, and no other payment', async () => {
  const table = await runCli(['payments', 'list', '--status', 'underpaid'], fixture.env);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(
    /PAYMENT\s+STATUS\s+USER\s+PRICE\s+PAID \/ ASKED\s+WHY NOT CONFIRMED/,
  );
  expect(table.stdout).toContain(journeys.underpaid.paymentId);
  expect(table.stdout).toMatch(
    /underpaid .*0\.000008 \/ 0\.0008 BTC\s+actuallyPaid 0\.000008 \(asked 0\.0008\)/,
  );
  expect(table.stdout).not.toContain(journeys.finished.paymentId);
  expect(table.stdout).not.toContain(journeys.mismatched.paymentId);

  const listed = jsonOf(
    await runCli(['payments', 'list', '--status', 'underpaid', '--json'], fixture.env),
  );
  expect(listed.payments).toEqual([
    expect.objectContaining({
      id: journeys.underpaid.paymentId,
      status: 'underpaid',
      actuallyPaid: 0.000008,
      payAmount: 0.0008,
      discrepancy: expect.objectContaining({ kind: 'underpaid' }),
    }),
  ]);
});

test('when an operator lists mismatched payments, then the figure that did not match is shown', async () => {
  const table = await runCli(['payments', 'list', '--status', 'mismatched'], fixture.env);
  expect(table.code).toBe(0);
  expect(table.stdout).toContain(journeys.mismatched.paymentId);
  expect(table.stdout).toMatch(/payCurrency usdttrc20 \(asked btc\)/);
});

test('when the status is not one a payment can have, then a usage error lists the statuses', async () => {
  const result = await runCli(['payments', 'list', '--status', 'paid'], fixture.env);
  expect(result.code).not.toBe(0);
  expect(failureLine(result)).toMatch(/--status expects one of .*underpaid, mismatched/);
});

interface Listed {
  payments: { id: string }[];
  olderThanMs?: number;
}

test('when the CLI spells out the payment statuses for --help and completion, then they are the contract’s', () => {
  expect([...paymentStatusChoices]).toEqual(PaymentStatusSchema.options);
});

test('when an operator lists payments waiting for longer than an hour, then only those unchanged that long are shown', async () => {
  const table = await runCli(
    ['payments', 'list', '--status', 'waiting', '--older-than', '1h'],
    fixture.env,
  );
  expect(table.stderr).toBe('');
  expect(table.code).toBe(0);
  expect(table.stdout).toContain(journeys.waitingLong.paymentId);
  expect(table.stdout).not.toContain(journeys.waitingNow.paymentId);
  expect(table.stdout).not.toContain(journeys.finished.paymentId);
  const all = jsonOf<Listed>(
    await runCli(['payments', 'list', '--status', 'waiting', '--json'], fixture.env),
  );
  expect(all.payments.map((p) => p.id)).toEqual(
    expect.arrayContaining([journeys.waitingLong.paymentId, journeys.waitingNow.paymentId]),
  );
  const stuck = jsonOf<Listed>(
    await runCli(
      ['payments', 'list', '--status', 'waiting', '--older-than', '1h', '--json'],
      fixture.env,
    ),
  );
  expect(stuck.olderThanMs).toBe(3_600_000);
  expect(stuck.payments.map((p) => p.id)).not.toContain(journeys.waitingNow.paymentId);
});

test('when an operator lists refunds asked for, then each payment with a refund requested is shown, and no other', async () => {
  const table = await runCli(['payments', 'list', '--status', 'refund-requested'], fixture.env);
  expect(table.code).toBe(0);
  expect(table.stdout).toContain(journeys.refundRequested.paymentId);
  expect(table.stdout).toMatch(/refund requested/);
  const listed = jsonOf(
    await runCli(['payments', 'list', '--status', 'refund-requested', '--json'], fixture.env),
  );
  expect(listed.payments).toEqual([
    expect.objectContaining({
      id: journeys.refundRequested.paymentId,
      refund: expect.objectContaining({ status: 'requested' }),
    }),
  ]);
});

test('when --older-than is not a duration, then a usage error says what it expects', async () => {
  const result = await runCli(['payments', 'list', '--older-than', 'soon'], fixture.env);
  expect(result.code).toBe(2);
  expect(failureLine(result)).toMatch(
    /--older-than expects a duration such as 30s, 10m, 2h or 1d, got "soon"/,
  );
});
