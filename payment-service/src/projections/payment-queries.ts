import {
  type PaymentHistoryEntrySchema,
  type PaymentStatus,
  type PaymentView,
} from '@meetmatt/contracts';
import { type z } from 'zod';
import { type Kysely, type Selectable } from 'kysely';
import { type PaymentDb, type PaymentsTable } from '../database';
import { OPEN_STATUSES } from '../domain/payment';

/** Reads over the `payments` read model. Visibility (own or admin) is decided by the caller. */

export type PaymentRow = Selectable<PaymentsTable>;
export type PaymentHistoryEntry = z.infer<typeof PaymentHistoryEntrySchema>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ListFilter {
  /** Only this user's payments; undefined: everyone's (operators). */
  userId?: string | undefined;
  status?: PaymentStatus | undefined;
  limit: number;
  /** Decoded `nextCursor` of the previous page. */
  after?: Cursor | undefined;
}

/** Keyset position: the last item of the previous page. */
export interface Cursor {
  createdAt: Date;
  id: string;
}

export class PaymentQueries {
  constructor(private readonly db: Kysely<PaymentDb>) {}

  async find(paymentId: string): Promise<PaymentRow | undefined> {
    return this.db
      .selectFrom('payments')
      .selectAll()
      .where('id', '=', paymentId)
      .executeTakeFirst();
  }

  /** Our payment whose NOWPayments payment has this id, if any. */
  async idOfProviderPayment(providerPaymentId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('payments')
      .select('id')
      .where('provider_payment_id', '=', providerPaymentId)
      .executeTakeFirst();
    return row?.id;
  }

  async history(paymentId: string): Promise<PaymentHistoryEntry[]> {
    const rows = await this.db
      .selectFrom('payment_history')
      .select(['status', 'provider_status', 'source', 'at'])
      .where('payment_id', '=', paymentId)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      status: row.status as PaymentStatus,
      providerStatus: row.provider_status,
      source: row.source,
      at: row.at.toISOString(),
    }));
  }

  /** Newest first, `(created_at, id)` keyset pagination. */
  async list(filter: ListFilter): Promise<{ rows: PaymentRow[]; next: Cursor | null }> {
    let query = this.db.selectFrom('payments').selectAll();
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    const after = filter.after;
    if (after) {
      query = query.where((eb) =>
        eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(after.createdAt, after.id)),
      );
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    const next =
      rows.length > filter.limit && last ? { createdAt: last.created_at, id: last.id } : null;
    return { rows: page, next };
  }

  /** Payments NOWPayments may still move, opened before `before`, oldest first. */
  async openBefore(before: Date, limit: number): Promise<PaymentRow[]> {
    return this.db
      .selectFrom('payments')
      .selectAll()
      .where('status', 'in', [...OPEN_STATUSES])
      .where('created_at', '<=', before)
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .execute();
  }
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.id}`, 'utf8').toString(
    'base64url',
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What `encodeCursor` writes: a four-digit year, which PostgreSQL's timestamptz can hold. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * undefined when the text is not a cursor we made. JavaScript dates reach years that PostgreSQL
 * cannot store (-200000): only the exact form we write is taken, so no such year reaches a query.
 */
export function decodeCursor(text: string): Cursor | undefined {
  const [at, id, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (rest.length > 0 || at === undefined || id === undefined || !UUID.test(id)) return undefined;
  if (!CURSOR_TIME.test(at)) return undefined;
  const createdAt = new Date(at);
  return Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== at
    ? undefined
    : { createdAt, id };
}

export function toPaymentView(row: PaymentRow): PaymentView {
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status as PaymentStatus,
    plan: row.plan,
    priceAmount: row.price_amount,
    priceCurrency: row.price_currency,
    payCurrency: row.pay_currency,
    payAmount: row.pay_amount,
    payAddress: row.pay_address,
    payinExtraId: row.payin_extra_id,
    providerPaymentId: row.provider_payment_id,
    actuallyPaid: row.actually_paid,
    agent: row.agent,
    autoDeploy: row.auto_deploy,
    invoiceNumber: row.invoice_number,
    creditNoteNumber: row.credit_note_number,
    refund: row.refund_status
      ? {
          status: row.refund_status,
          reason: row.refund_reason ?? '',
          reference: row.refund_reference,
        }
      : null,
    discrepancy: row.discrepancy,
    expiresAt: row.expires_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
