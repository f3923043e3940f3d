import { type EventOf, type EventUnion, paymentEventTypes, userEvents } from '@meetmatt/contracts';
import {
  type ConsumedEvent,
  type HandlerResult,
  type QueuedMail,
  type RecordedEvent,
} from '@meetmatt/infra';
import { type Kysely, type Migration, sql } from 'kysely';
import { z } from 'zod';

/**
 * Receipts are mailed by payment-service, not user-service: the receipt carries the invoice PDF,
 * and only this service has the invoice (issued here, numbered here) and draws its PDF. What it
 * lacks is small and public on the bus: the buyer's address and whether they want payment news
 * by mail. It keeps those in `mail_recipients` from user events, as its own read model, so a
 * receipt never waits on a call to another service.
 */
export const consumedRecipientEvents = [
  userEvents.registered,
  userEvents.profileUpdated,
  userEvents.preferencesUpdated,
] as const;

type RecipientEvent = ConsumedEvent<EventUnion<typeof consumedRecipientEvents>>;

export const mailRecipientsMigration: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE mail_recipients (
        user_id text PRIMARY KEY,
        email text,
        email_at timestamptz,
        wants_receipts boolean NOT NULL DEFAULT false,
        preferences_at timestamptz
      )`.execute(db);
  },
  async down(db) {
    await sql`DROP TABLE IF EXISTS mail_recipients`.execute(db);
  },
};

export interface Recipient {
  email: string | null;
  wantsReceipts: boolean;
}

type Preferences = EventOf<typeof userEvents.preferencesUpdated>['data']['preferences'];

/** A receipt goes to a user who turned the email channel on and wants payment confirmations. */
export function wantsReceipts(preferences: Preferences): boolean {
  return (
    preferences.notificationChannels.includes('email') && preferences.notifyOn.paymentConfirmed
  );
}

export class MailRecipients {
  constructor(private readonly db: Kysely<unknown>) {}

  /**
   * One user event. Each field moves only forwards in time (a redelivery or a retry that comes
   * late changes nothing), so the handler is idempotent without an inbox.
   */
  handle = async (event: RecipientEvent): Promise<HandlerResult> => {
    const at = event.time;
    switch (event.type) {
      case 'user.registered':
        await this.setEmail(event.data.userId, event.data.email, at);
        break;
      case 'user.profile-updated':
        if (event.data.email !== undefined)
          await this.setEmail(event.data.userId, event.data.email, at);
        break;
      case 'user.preferences-updated':
        await sql`
          INSERT INTO mail_recipients (user_id, wants_receipts, preferences_at)
          VALUES (${event.data.userId}, ${wantsReceipts(event.data.preferences)}, ${at})
          ON CONFLICT (user_id) DO UPDATE SET
            wants_receipts = excluded.wants_receipts, preferences_at = excluded.preferences_at
          WHERE mail_recipients.preferences_at IS NULL
             OR mail_recipients.preferences_at <= excluded.preferences_at`.execute(this.db);
        break;
    }
    return 'processed';
  };

  private async setEmail(userId: string, email: string, at: string): Promise<void> {
    await sql`
      INSERT INTO mail_recipients (user_id, email, email_at) VALUES (${userId}, ${email}, ${at})
      ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, email_at = excluded.email_at
      WHERE mail_recipients.email_at IS NULL OR mail_recipients.email_at <= excluded.email_at`.execute(
      this.db,
    );
  }

  async of(userId: string): Promise<Recipient | undefined> {
    const { rows } = await sql<{ email: string | null; wants_receipts: boolean }>`
      SELECT email, wants_receipts FROM mail_recipients WHERE user_id = ${userId}`.execute(this.db);
    const row = rows[0];
    return row ? { email: row.email, wantsReceipts: row.wants_receipts } : undefined;
  }
}

export const RECEIPT = 'receipt';
export const ReceiptPayload = z.object({ paymentId: z.string(), userId: z.string() });

/** `payment.invoice-issued` asks for one receipt, keyed by the event. */
export function receiptMails(event: RecordedEvent): QueuedMail[] {
  if (event.type !== paymentEventTypes.invoiceIssued) return [];
  const data = ReceiptPayload.parse(event.data);
  return [{ key: `${event.id}:${RECEIPT}`, kind: RECEIPT, payload: data }];
}
