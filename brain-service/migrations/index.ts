import { type Migrations, sql } from '@meetmatt/infra';

/**
 * The brain service's own tables, in order. Projection tables belong to their projections; the
 * payments read model is written by the payment-events consumer (inbox-guarded), not by a
 * projection, since its events come from the bus rather than from our own store.
 */
export const migrations: Migrations = {
  '20261201-01-payments': {
    async up(db) {
      await sql`
        CREATE TABLE payments (
          payment_id uuid PRIMARY KEY,
          user_id uuid NOT NULL,
          status text NOT NULL,
          plan text,
          agent jsonb,
          auto_deploy boolean,
          confirmed_at timestamptz,
          updated_at timestamptz NOT NULL DEFAULT now()
        )`.execute(db);
      await sql`CREATE INDEX payments_user ON payments (user_id)`.execute(db);
    },
    async down(db) {
      await sql`DROP TABLE IF EXISTS payments`.execute(db);
    },
  },
  '20261201-02-payments-acu-limit': {
    async up(db) {
      await sql`ALTER TABLE payments ADD COLUMN max_acu_limit integer`.execute(db);
    },
    async down(db) {
      await sql`ALTER TABLE payments DROP COLUMN IF EXISTS max_acu_limit`.execute(db);
    },
  },
};
