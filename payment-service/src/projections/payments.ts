import { paymentEventTypes } from '@meetmatt/contracts';
import { type ProjectedEvent, defineProjection } from '@meetmatt/infra';
import { type Kysely, type Transaction, sql } from 'kysely';
import { type PaymentDb } from '../database';
import { type PaymentEvent } from '../domain/payment';

/**
 * The read model every payment query is served from: `payments` (one row each, with its
 * invoice and refund) and `payment_history` (each status change, where it came from).
 */

/**
 * Not `payment.ipn-received`: NOWPayments reports a deposit with a status change, and the
 * status change carries what was paid, so the evidence (one event per IPN) stays out of the
 * read model's hot path.
 */
const EVENT_TYPES = [
  paymentEventTypes.created,
  paymentEventTypes.statusChanged,
  paymentEventTypes.confirmed,
  paymentEventTypes.invoiceIssued,
  paymentEventTypes.refundRequested,
  paymentEventTypes.refundCompleted,
] as const;

type Projected = ProjectedEvent<Extract<PaymentEvent, { type: (typeof EVENT_TYPES)[number] }>>;

export const paymentsProjection = defineProjection<PaymentDb, Projected>({
  name: 'payments',
  version: 1,
  eventTypes: EVENT_TYPES,
  tables: ['payments', 'payment_history'],
  createTables,
  async apply(trx, events) {
    for (const event of events) await applyOne(trx, event);
  },
});

async function createTables(db: Kysely<PaymentDb>, schema: string): Promise<void> {
  await db.schema
    .withSchema(schema)
    .createTable('payments')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('price_amount', 'double precision', (c) => c.notNull())
    .addColumn('price_currency', 'text', (c) => c.notNull())
    .addColumn('pay_currency', 'text', (c) => c.notNull())
    .addColumn('pay_amount', 'double precision', (c) => c.notNull())
    .addColumn('pay_address', 'text', (c) => c.notNull())
    .addColumn('payin_extra_id', 'text')
    .addColumn('provider_payment_id', 'text', (c) => c.notNull())
    .addColumn('actually_paid', 'double precision')
    .addColumn('agent', 'jsonb', (c) => c.notNull())
    .addColumn('auto_deploy', 'boolean', (c) => c.notNull())
    .addColumn('invoice_number', 'text', (c) => c.unique())
    .addColumn('invoice_issued_at', 'timestamptz')
    .addColumn('confirmed_at', 'timestamptz')
    .addColumn('refund_status', 'text')
    .addColumn('refund_reason', 'text')
    .addColumn('refund_reference', 'text')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  // Keyset pages, newest first: a user's own, everyone's (operators), and by status.
  await sql`CREATE INDEX payments_user_page ON payments (user_id, created_at DESC, id DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX payments_page ON payments (created_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX payments_status_page ON payments (status, created_at DESC, id DESC)`.execute(
    db,
  );
  await db.schema
    .withSchema(schema)
    .createTable('payment_history')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('payment_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('provider_status', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`CREATE INDEX payment_history_payment ON payment_history (payment_id, id)`.execute(db);
}

async function applyOne(trx: Transaction<PaymentDb>, event: Projected): Promise<void> {
  switch (event.type) {
    case 'payment.created': {
      const d = event.data;
      await trx
        .insertInto('payments')
        .values({
          id: d.paymentId,
          user_id: d.userId,
          status: 'waiting',
          plan: d.plan,
          price_amount: d.priceAmount,
          price_currency: d.priceCurrency,
          pay_currency: d.payCurrency,
          pay_amount: d.payAmount,
          pay_address: d.payAddress,
          payin_extra_id: d.payinExtraId,
          provider_payment_id: d.providerPaymentId,
          actually_paid: null,
          agent: JSON.stringify(d.agent),
          auto_deploy: d.autoDeploy,
          invoice_number: null,
          invoice_issued_at: null,
          confirmed_at: null,
          refund_status: null,
          refund_reason: null,
          refund_reference: null,
          expires_at: d.expiresAt,
          created_at: d.createdAt,
          updated_at: d.createdAt,
        })
        .execute();
      await history(trx, d.paymentId, 'waiting', null, 'created', d.createdAt);
      return;
    }
    case 'payment.status-changed': {
      const d = event.data;
      const paid = d.actuallyPaid ?? null;
      // One statement: the row moves, what was paid only grows, and the history gains a line.
      await sql`
        WITH moved AS (
          UPDATE payments
          SET status = ${d.to}, updated_at = ${d.changedAt},
              actually_paid = CASE
                WHEN ${paid}::double precision IS NULL THEN actually_paid
                ELSE greatest(coalesce(actually_paid, 0), ${paid}::double precision) END
          WHERE id = ${d.paymentId}
        )
        INSERT INTO payment_history (payment_id, status, provider_status, source, at)
        VALUES (${d.paymentId}, ${d.to}, ${d.providerStatus ?? null}, ${d.source ?? 'webhook'},
                ${d.changedAt})`.execute(trx);
      return;
    }
    case 'payment.confirmed':
      await trx
        .updateTable('payments')
        .set({ confirmed_at: event.data.confirmedAt })
        .where('id', '=', event.data.paymentId)
        .execute();
      return;
    case 'payment.invoice-issued':
      await trx
        .updateTable('payments')
        .set({
          invoice_number: event.data.invoiceNumber,
          invoice_issued_at: event.data.issuedAt,
          updated_at: event.data.issuedAt,
        })
        .where('id', '=', event.data.paymentId)
        .execute();
      return;
    case 'payment.refund-requested':
      await trx
        .updateTable('payments')
        .set({
          refund_status: 'requested',
          refund_reason: event.data.reason,
          updated_at: event.data.requestedAt,
        })
        .where('id', '=', event.data.paymentId)
        .execute();
      return;
    case 'payment.refund-completed':
      await trx
        .updateTable('payments')
        .set({
          refund_status: 'completed',
          refund_reference: event.data.reference,
          updated_at: event.data.completedAt,
        })
        .where('id', '=', event.data.paymentId)
        .execute();
      return;
  }
}

async function history(
  trx: Transaction<PaymentDb>,
  paymentId: string,
  status: string,
  providerStatus: string | null,
  source: 'created' | 'webhook' | 'reconciler' | 'operator',
  at: string,
): Promise<void> {
  await trx
    .insertInto('payment_history')
    .values({ payment_id: paymentId, status, provider_status: providerStatus, source, at })
    .execute();
}
