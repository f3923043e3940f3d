import { type Kysely, sql } from 'kysely';
import { type PaymentDb } from '../database';

/** NOWPayments' answer to our request, as it is recorded (the OpenPayment command's data). */
export interface OpeningAnswer {
  data: Record<string, unknown>;
  now: string;
}

/**
 * Payments being opened: asked of NOWPayments, its answer not yet recorded. NOWPayments may
 * send the first IPN of a payment before our `payment.created` is stored (a fast provider, our
 * sandbox at test speed); the webhook looks here to tell such a payment from one we never had.
 *
 * Once NOWPayments has answered, the answer is kept here until `payment.created` is stored: if
 * storing it fails (the database went away mid-request), NOWPayments' payment exists and may be
 * paid, so it is recorded later from this row (`answered`), never left an orphan.
 */
export class PaymentOpenings {
  constructor(
    private readonly db: Kysely<PaymentDb>,
    /** An opening older than this was abandoned (its process died): no longer expected. */
    private readonly expireMs: number,
  ) {}

  async begin(paymentId: string): Promise<void> {
    await this.db
      .insertInto('payment_openings')
      .values({ payment_id: paymentId })
      .onConflict((oc) => oc.column('payment_id').doUpdateSet({ started_at: sql<Date>`now()` }))
      .execute();
  }

  /** Keeps NOWPayments' answer until the payment is recorded. */
  async answer(paymentId: string, answer: OpeningAnswer): Promise<void> {
    await this.db
      .updateTable('payment_openings')
      .set({ answer: JSON.stringify(answer) })
      .where('payment_id', '=', paymentId)
      .execute();
  }

  async end(paymentId: string): Promise<void> {
    await this.db.deleteFrom('payment_openings').where('payment_id', '=', paymentId).execute();
  }

  /** Being opened, or answered by NOWPayments and not recorded yet. */
  async isOpening(paymentId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('payment_openings')
      .select('payment_id')
      .where('payment_id', '=', paymentId)
      .where((eb) =>
        eb.or([
          eb('answer', 'is not', null),
          eb('started_at', '>', sql<Date>`now() - ${`${this.expireMs} milliseconds`}::interval`),
        ]),
      )
      .executeTakeFirst();
    return row !== undefined;
  }

  /** NOWPayments' answer for this payment if it was kept and not recorded. */
  async answerOf(paymentId: string): Promise<OpeningAnswer | undefined> {
    const row = await this.db
      .selectFrom('payment_openings')
      .select('answer')
      .where('payment_id', '=', paymentId)
      .where('answer', 'is not', null)
      .executeTakeFirst();
    return row?.answer ? (row.answer as OpeningAnswer) : undefined;
  }

  /** Payments NOWPayments opened whose recording was abandoned more than `olderThanMs` ago. */
  async abandonedAnswers(olderThanMs: number, limit = 100): Promise<string[]> {
    const rows = await this.db
      .selectFrom('payment_openings')
      .select('payment_id')
      .where('answer', 'is not', null)
      .where('started_at', '<', sql<Date>`now() - ${`${olderThanMs} milliseconds`}::interval`)
      .orderBy('started_at')
      .limit(limit)
      .execute();
    return rows.map((row) => row.payment_id);
  }

  /** Forgets openings abandoned long ago before NOWPayments answered (nothing to record). */
  async sweep(): Promise<void> {
    await this.db
      .deleteFrom('payment_openings')
      .where('answer', 'is', null)
      .where('started_at', '<', sql<Date>`now() - ${`${this.expireMs} milliseconds`}::interval`)
      .execute();
  }
}
