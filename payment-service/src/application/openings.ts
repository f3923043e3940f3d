import { type Kysely, sql } from 'kysely';
import { type PaymentDb } from '../database';

/**
 * Payments being opened: asked of NOWPayments, its answer not yet recorded. NOWPayments may
 * send the first IPN of a payment before our `payment.created` is stored (a fast provider, our
 * sandbox at test speed); the webhook looks here to tell such a payment from one we never had.
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

  async end(paymentId: string): Promise<void> {
    await this.db.deleteFrom('payment_openings').where('payment_id', '=', paymentId).execute();
  }

  async isOpening(paymentId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('payment_openings')
      .select('payment_id')
      .where('payment_id', '=', paymentId)
      .where('started_at', '>', sql<Date>`now() - ${`${this.expireMs} milliseconds`}::interval`)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Forgets openings abandoned long ago. */
  async sweep(): Promise<void> {
    await this.db
      .deleteFrom('payment_openings')
      .where('started_at', '<', sql<Date>`now() - ${`${this.expireMs} milliseconds`}::interval`)
      .execute();
  }
}
