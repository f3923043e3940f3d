import {
  type BillingDetails,
  type EventOf,
  type EventUnion,
  userEvents,
} from '@meetmatt/contracts';
import { type ConsumedEvent, type HandlerResult } from '@meetmatt/infra';
import { type Kysely, sql } from 'kysely';
import { type PaymentDb } from '../database';

/** The user events the payment service takes (queue payment-service.user-events). */
export const consumedUserEvents = [userEvents.billingDetailsChanged] as const;

type BillingDetailsChanged = EventOf<typeof userEvents.billingDetailsChanged>;

/**
 * The payment service's copy of each buyer's billing details, kept from the user service's
 * `user.billing-details-changed` on the bus (the services share no database and make no calls
 * to each other). An invoice copies the details it finds here when it is issued, so it keeps
 * showing them as they were even after the buyer changes them.
 */
export class BuyerBillingDetails {
  constructor(private readonly db: Kysely<PaymentDb>) {}

  /** The details known now; null when the buyer gave none (or none reached us yet). */
  async of(userId: string): Promise<BillingDetails | null> {
    const row = await this.db
      .selectFrom('buyer_billing_details')
      .select('billing')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.billing ?? null;
  }

  /**
   * Keeps the newest details: a redelivery writes the same row again, and an older change
   * arriving after a newer one (a retry overtaken) leaves the newer in place.
   */
  async record(data: BillingDetailsChanged['data']): Promise<'processed' | 'duplicate'> {
    const written = await sql<{ user_id: string }>`
      INSERT INTO buyer_billing_details (user_id, billing, changed_at)
      VALUES (${data.userId}, ${data.billing ? JSON.stringify(data.billing) : null}::jsonb,
              ${data.changedAt}::timestamptz)
      ON CONFLICT (user_id) DO UPDATE
        SET billing = excluded.billing, changed_at = excluded.changed_at
        WHERE buyer_billing_details.changed_at < excluded.changed_at
      RETURNING user_id`.execute(this.db);
    return written.rows.length > 0 ? 'processed' : 'duplicate';
  }

  handle = async (
    event: ConsumedEvent<EventUnion<typeof consumedUserEvents>>,
  ): Promise<HandlerResult> => this.record(event.data);
}
