import { randomUUID } from 'node:crypto';
import { type Database, type RecordedEvent, createDatabase } from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { type PaymentDb } from '../../src/database';
import { type PaymentEvent } from '../../src/domain/payment';
import { PaymentQueries, toPaymentView } from '../../src/projections/payment-queries';
import { paymentsProjection } from '../../src/projections/payments';

/** The read model fed batches directly, as the projection runner would, against PostgreSQL. */
describe('payments projection', () => {
  let testDb: TestDatabase;
  let database: Database<PaymentDb>;
  let revision = 0;

  beforeAll(async () => {
    testDb = await createTestDatabase('payment_projection');
    database = createDatabase<PaymentDb>({ url: testDb.url });
    await paymentsProjection.createTables(database.db as never, 'public');
  });

  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  const recorded = (event: PaymentEvent): RecordedEvent => ({
    ...event,
    id: randomUUID(),
    metadata: { correlationId: 'c', causationId: 'c', schemaVersion: 1 },
    streamId: 'payment-x',
    revision: revision++,
    position: { commit: 1n, prepare: BigInt(revision) },
    createdAt: new Date(),
  });

  const applyRecorded = (events: RecordedEvent[]) =>
    database.db
      .transaction()
      .execute((trx) =>
        paymentsProjection.apply(trx as never, events, { schema: 'public', rebuilding: false }),
      );
  const apply = (events: PaymentEvent[]) => applyRecorded(events.map(recorded));

  function opened(paymentId: string, at: string): PaymentEvent {
    return {
      type: 'payment.created',
      data: {
        paymentId,
        userId: randomUUID(),
        plan: 'starter',
        priceAmount: 49,
        priceCurrency: 'usd',
        payCurrency: 'btc',
        payAmount: 0.001,
        payAddress: 'bc1q',
        payinExtraId: null,
        providerPaymentId: '42',
        expiresAt: null,
        agent: { name: 'Bot', instructions: 'Help' },
        autoDeploy: true,
        createdAt: at,
      },
    };
  }

  function moved(paymentId: string, from: string, to: string, at: string, paid: number | null) {
    return {
      type: 'payment.status-changed',
      data: {
        paymentId,
        userId: randomUUID(),
        from,
        to,
        source: 'webhook',
        providerStatus: to,
        actuallyPaid: paid,
        changedAt: at,
      },
    } as PaymentEvent;
  }

  test('when one batch opens, moves, invoices and refunds a payment, then the row and its history end where the events do', async () => {
    const id = randomUUID();
    const other = randomUUID();
    await apply([
      opened(id, '2026-03-01T10:00:00.000Z'),
      opened(other, '2026-03-01T10:00:01.000Z'),
      moved(id, 'waiting', 'confirming', '2026-03-01T10:01:00.000Z', 0.0005),
      moved(other, 'waiting', 'expired', '2026-03-01T10:01:30.000Z', null),
      moved(id, 'confirming', 'finished', '2026-03-01T10:02:00.000Z', 0.001),
      {
        type: 'payment.invoice-issued',
        data: {
          paymentId: id,
          userId: randomUUID(),
          invoiceNumber: 'MM-2026-000001',
          amount: 49,
          currency: 'usd',
          plan: 'starter',
          issuedAt: '2026-03-01T10:02:01.000Z',
        },
      },
      {
        type: 'payment.refund-requested',
        data: {
          paymentId: id,
          userId: randomUUID(),
          reason: 'Goodwill',
          requestedBy: 'operator',
          operatorId: randomUUID(),
          requestedAt: '2026-03-01T10:03:00.000Z',
        },
      },
    ]);
    // the next batch: a late report of less money, and the refund completed
    await apply([
      moved(id, 'finished', 'refunded', '2026-03-01T10:04:00.000Z', 0.0002),
      {
        type: 'payment.refund-completed',
        data: {
          paymentId: id,
          userId: randomUUID(),
          reference: 'PAYOUT-1',
          operatorId: randomUUID(),
          completedAt: '2026-03-01T10:05:00.000Z',
        },
      },
    ]);

    const queries = new PaymentQueries(database.db);
    const row = (await queries.find(id))!;
    expect(toPaymentView(row)).toMatchObject({
      status: 'refunded',
      actuallyPaid: 0.001,
      invoiceNumber: 'MM-2026-000001',
      refund: { status: 'completed', reason: 'Goodwill', reference: 'PAYOUT-1' },
      createdAt: '2026-03-01T10:00:00.000Z',
      updatedAt: '2026-03-01T10:05:00.000Z',
    });
    expect(row.confirmed_at?.toISOString()).toBe('2026-03-01T10:02:00.000Z');
    expect((await queries.history(id)).map((h) => [h.status, h.source])).toEqual([
      ['waiting', 'created'],
      ['confirming', 'webhook'],
      ['finished', 'webhook'],
      ['refunded', 'webhook'],
    ]);
    expect(toPaymentView((await queries.find(other))!)).toMatchObject({
      status: 'expired',
      actuallyPaid: null,
      invoiceNumber: null,
      refund: null,
    });
  });

  test('when events already applied are applied again (a replay), then the row and its history stay as they were', async () => {
    const id = randomUUID();
    const events = [
      opened(id, '2026-04-01T10:00:00.000Z'),
      moved(id, 'waiting', 'confirming', '2026-04-01T10:01:00.000Z', 0.0005),
      moved(id, 'confirming', 'finished', '2026-04-01T10:02:00.000Z', 0.001),
    ].map(recorded);
    await applyRecorded(events.slice(0, 2));
    await applyRecorded(events.slice(2));
    const queries = new PaymentQueries(database.db);
    const before = { row: await queries.find(id), history: await queries.history(id) };

    // replayed from the first event, in other batches
    await applyRecorded(events.slice(0, 1));
    await applyRecorded(events.slice(1));

    expect(await queries.find(id)).toEqual(before.row);
    expect(await queries.history(id)).toEqual(before.history);
    expect(before.history.map((h) => h.status)).toEqual(['waiting', 'confirming', 'finished']);
    expect(before.row?.status).toBe('finished');
  });
});
