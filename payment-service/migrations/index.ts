import { type Migrations } from '@meetmatt/infra';
import { sql } from 'kysely';
import { mailRecipientsMigration } from '../src/application/receipts';

/** The payment service's own tables, in order. Projection tables belong to their projections. */
export const migrations: Migrations = {
  /**
   * One row per (user, Idempotency-Key) of POST /payments/create: claimed before NOWPayments is
   * called (the primary key lets only one request claim it), then holding the first answer.
   */
  '20261201-01-idempotency-keys': {
    async up(db) {
      await sql`
        CREATE TABLE idempotency_keys (
          user_id uuid NOT NULL,
          key text NOT NULL,
          request_hash text NOT NULL,
          payment_id uuid NOT NULL,
          state text NOT NULL CHECK (state IN ('pending', 'done')),
          response jsonb,
          lease_until timestamptz NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (user_id, key)
        )`.execute(db);
    },
    async down(db) {
      await sql`DROP TABLE IF EXISTS idempotency_keys`.execute(db);
    },
  },
  /**
   * Payments being opened right now: NOWPayments has been asked, its answer not yet recorded.
   * An IPN that overtakes the answer finds its payment here and is asked to come back.
   */
  '20261201-02-payment-openings': {
    async up(db) {
      await sql`
        CREATE TABLE payment_openings (
          payment_id uuid PRIMARY KEY,
          started_at timestamptz NOT NULL DEFAULT now()
        )`.execute(db);
    },
    async down(db) {
      await sql`DROP TABLE IF EXISTS payment_openings`.execute(db);
    },
  },
  /**
   * NOWPayments' answer, kept with the opening until it is recorded: a payment opened at
   * NOWPayments whose recording failed is recorded later from here instead of being orphaned.
   */
  '20261202-01-payment-openings-answer': {
    async up(db) {
      await sql`ALTER TABLE payment_openings ADD COLUMN answer jsonb`.execute(db);
    },
    async down(db) {
      await sql`ALTER TABLE payment_openings DROP COLUMN IF EXISTS answer`.execute(db);
    },
  },
  /**
   * Buyers' billing details, from the user service's `user.billing-details-changed` on the bus:
   * an invoice copies them when it is issued.
   */
  '20261202-02-buyer-billing-details': {
    async up(db) {
      await sql`
        CREATE TABLE buyer_billing_details (
          user_id uuid PRIMARY KEY,
          billing jsonb,
          changed_at timestamptz NOT NULL
        )`.execute(db);
    },
    async down(db) {
      await sql`DROP TABLE IF EXISTS buyer_billing_details`.execute(db);
    },
  },
  /** Buyers' addresses and mail preferences, from user events (application/receipts.ts). */
  '20261202-03-mail-recipients': mailRecipientsMigration,
};
