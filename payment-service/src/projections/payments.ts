import {
  type BillingDetails,
  type PaymentDiscrepancy,
  paymentEventTypes,
} from '@meetmatt/contracts';
import { type ProjectedEvent, defineProjection } from '@meetmatt/infra';
import { type Insertable, type Kysely, type Transaction, sql } from 'kysely';
import { type PaymentDb, type PaymentHistoryTable, type PaymentsTable } from '../database';
import { type PaymentEvent } from '../domain/payment';

/**
 * The read model every payment query is served from: `payments` (one row each, with its
 * invoice, refund and credit note) and `payment_history` (each status change, where it came from).
 *
 * Not `payment.ipn-received`: NOWPayments reports a deposit with a status change, and the
 * status change carries what was paid, so the evidence (one event per IPN) stays out of it; nor
 * `payment.confirmed`, whose time is that of the change to `finished`.
 */
const EVENT_TYPES = [
  paymentEventTypes.created,
  paymentEventTypes.statusChanged,
  paymentEventTypes.underpaid,
  paymentEventTypes.mismatched,
  paymentEventTypes.invoiceIssued,
  paymentEventTypes.refundRequested,
  paymentEventTypes.refundCompleted,
  paymentEventTypes.creditNoteIssued,
] as const;

type Projected = ProjectedEvent<Extract<PaymentEvent, { type: (typeof EVENT_TYPES)[number] }>>;

export const paymentsProjection = defineProjection<PaymentDb, Projected>({
  name: 'payments',
  // 2: history lines keyed by their event, so a replay (`meetmatt projections replay`) is harmless.
  // 3: the discrepancy of an underpaid or mismatched payment; payments found by NOWPayments id.
  // 4: the invoice's buyer (billing details as issued) and the credit note of a refund.
  version: 4,
  eventTypes: EVENT_TYPES,
  tables: ['payments', 'payment_history'],
  createTables,
  apply: (trx, events) => applyBatch(trx, events),
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
    .addColumn('invoice_buyer', 'jsonb')
    .addColumn('confirmed_at', 'timestamptz')
    .addColumn('refund_status', 'text')
    .addColumn('refund_reason', 'text')
    .addColumn('refund_reference', 'text')
    .addColumn('credit_note_number', 'text', (c) => c.unique())
    .addColumn('credit_note_issued_at', 'timestamptz')
    .addColumn('discrepancy', 'jsonb')
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
  // A repeat deposit's IPN may name only its parent, NOWPayments' id of our payment.
  await sql`CREATE INDEX payments_provider_payment ON payments (provider_payment_id)`.execute(db);
  await db.schema
    .withSchema(schema)
    .createTable('payment_history')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('payment_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('provider_status', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`CREATE INDEX payment_history_payment ON payment_history (payment_id, id)`.execute(db);
}

/** What a batch does to one payment's row beyond its creation, folded in event order. */
interface RowChange {
  status?: string;
  actuallyPaid?: number;
  confirmedAt?: string;
  invoiceNumber?: string;
  invoiceIssuedAt?: string;
  /** Set with the invoice: its buyer, or null when the invoice printed none. */
  invoiceBuyer?: BillingDetails | null;
  creditNoteNumber?: string;
  creditNoteIssuedAt?: string;
  refundStatus?: 'requested' | 'completed';
  refundReason?: string;
  refundReference?: string;
  discrepancy?: PaymentDiscrepancy;
  updatedAt: string;
}

/**
 * A whole batch in a handful of statements, however many events it holds: the new rows, then
 * one update carrying each payment's folded changes, then the history lines in event order.
 * (Under a stream of IPNs a statement per event costs more than the events themselves.)
 */
async function applyBatch(trx: Transaction<PaymentDb>, events: Projected[]): Promise<void> {
  const created: Insertable<PaymentsTable>[] = [];
  const changes = new Map<string, RowChange>();
  const history: Insertable<PaymentHistoryTable>[] = [];
  const change = (paymentId: string, at: string): RowChange => {
    const known = changes.get(paymentId) ?? { updatedAt: at };
    if (at > known.updatedAt) known.updatedAt = at;
    changes.set(paymentId, known);
    return known;
  };
  for (const event of events) {
    switch (event.type) {
      case 'payment.created': {
        const d = event.data;
        created.push(newRow(event));
        history.push(historyLine(event, d.paymentId, 'waiting', null, 'created', d.createdAt));
        break;
      }
      case 'payment.status-changed': {
        const d = event.data;
        const row = change(d.paymentId, d.changedAt);
        // Statuses only move forward: the last one of the batch is where the payment is.
        row.status = d.to;
        if (d.to === 'finished') row.confirmedAt ??= d.changedAt;
        // What arrived only grows: a late report of an earlier deposit does not shrink it.
        if (d.actuallyPaid != null)
          row.actuallyPaid = Math.max(row.actuallyPaid ?? 0, d.actuallyPaid);
        history.push(
          historyLine(
            event,
            d.paymentId,
            d.to,
            d.providerStatus ?? null,
            d.source ?? 'webhook',
            d.changedAt,
          ),
        );
        break;
      }
      case 'payment.underpaid': {
        const d = event.data;
        change(d.paymentId, d.at).discrepancy = {
          kind: 'underpaid',
          figures: [
            { field: 'payCurrency', expected: d.payCurrency, actual: d.payCurrency },
            { field: 'actuallyPaid', expected: d.payAmount, actual: d.actuallyPaid },
          ],
          at: d.at,
        };
        break;
      }
      case 'payment.mismatched': {
        const d = event.data;
        change(d.paymentId, d.at).discrepancy = {
          kind: 'mismatched',
          figures: d.mismatches,
          at: d.at,
        };
        break;
      }
      case 'payment.invoice-issued': {
        const row = change(event.data.paymentId, event.data.issuedAt);
        row.invoiceNumber = event.data.invoiceNumber;
        row.invoiceIssuedAt = event.data.issuedAt;
        row.invoiceBuyer = event.data.buyer ?? null;
        break;
      }
      case 'payment.credit-note-issued': {
        const row = change(event.data.paymentId, event.data.issuedAt);
        row.creditNoteNumber = event.data.creditNoteNumber;
        row.creditNoteIssuedAt = event.data.issuedAt;
        break;
      }
      case 'payment.refund-requested': {
        const row = change(event.data.paymentId, event.data.requestedAt);
        row.refundStatus = 'requested';
        row.refundReason = event.data.reason;
        break;
      }
      case 'payment.refund-completed': {
        const row = change(event.data.paymentId, event.data.completedAt);
        row.refundStatus = 'completed';
        row.refundReference = event.data.reference;
        break;
      }
    }
  }
  // Idempotent, so a replay over events already applied changes nothing: a payment is created
  // once, each event leaves at most one history line, and the row's changes only move forward.
  if (created.length > 0)
    await trx
      .insertInto('payments')
      .values(created)
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  if (changes.size > 0) await updateRows(trx, changes);
  if (history.length > 0)
    await trx
      .insertInto('payment_history')
      .values(history)
      .onConflict((oc) => oc.column('event_id').doNothing())
      .execute();
}

async function updateRows(
  trx: Transaction<PaymentDb>,
  changes: ReadonlyMap<string, RowChange>,
): Promise<void> {
  const rows = [...changes].map(
    ([id, c]) =>
      sql`(${id}::uuid, ${c.status ?? null}::text, ${c.actuallyPaid ?? null}::double precision,
           ${c.confirmedAt ?? null}::timestamptz, ${c.invoiceNumber ?? null}::text,
           ${c.invoiceIssuedAt ?? null}::timestamptz,
           ${c.invoiceBuyer ? JSON.stringify(c.invoiceBuyer) : null}::jsonb,
           ${c.creditNoteNumber ?? null}::text, ${c.creditNoteIssuedAt ?? null}::timestamptz,
           ${c.refundStatus ?? null}::text,
           ${c.refundReason ?? null}::text, ${c.refundReference ?? null}::text,
           ${c.discrepancy ? JSON.stringify(c.discrepancy) : null}::jsonb,
           ${c.updatedAt}::timestamptz)`,
  );
  await sql`
    UPDATE payments AS p SET
      status = coalesce(v.status, p.status),
      actually_paid = CASE WHEN v.actually_paid IS NULL THEN p.actually_paid
        ELSE greatest(coalesce(p.actually_paid, 0), v.actually_paid) END,
      confirmed_at = coalesce(p.confirmed_at, v.confirmed_at),
      invoice_number = coalesce(v.invoice_number, p.invoice_number),
      invoice_issued_at = coalesce(v.invoice_issued_at, p.invoice_issued_at),
      invoice_buyer = coalesce(v.invoice_buyer, p.invoice_buyer),
      credit_note_number = coalesce(v.credit_note_number, p.credit_note_number),
      credit_note_issued_at = coalesce(v.credit_note_issued_at, p.credit_note_issued_at),
      refund_status = coalesce(v.refund_status, p.refund_status),
      refund_reason = coalesce(v.refund_reason, p.refund_reason),
      refund_reference = coalesce(v.refund_reference, p.refund_reference),
      discrepancy = coalesce(v.discrepancy, p.discrepancy),
      updated_at = greatest(p.updated_at, v.updated_at)
    FROM (VALUES ${sql.join(rows)}) AS v(id, status, actually_paid, confirmed_at, invoice_number,
      invoice_issued_at, invoice_buyer, credit_note_number, credit_note_issued_at, refund_status, refund_reason, refund_reference, discrepancy, updated_at)
    WHERE p.id = v.id`.execute(trx);
}

function newRow(event: Extract<Projected, { type: 'payment.created' }>): Insertable<PaymentsTable> {
  const d = event.data;
  return {
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
    invoice_buyer: null,
    confirmed_at: null,
    refund_status: null,
    refund_reason: null,
    refund_reference: null,
    credit_note_number: null,
    credit_note_issued_at: null,
    discrepancy: null,
    expires_at: d.expiresAt,
    created_at: d.createdAt,
    updated_at: d.createdAt,
  };
}

function historyLine(
  event: { id: string },
  paymentId: string,
  status: string,
  providerStatus: string | null,
  source: PaymentHistoryTable['source'],
  at: string,
): Insertable<PaymentHistoryTable> {
  return {
    event_id: event.id,
    payment_id: paymentId,
    status,
    provider_status: providerStatus,
    source,
    at,
  };
}
