import { randomUUID } from 'node:crypto';
import { paymentEvents } from '@meetmatt/contracts';
import {
  type CliFixture,
  appendAll,
  createCliFixture,
  failureLine,
  jsonOf,
  newEvent,
  runCli,
} from './support';

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

const journeys = {
  underpaid: paymentJourney('underpaid'),
  mismatched: paymentJourney('mismatched'),
  finished: paymentJourney('finished'),
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
