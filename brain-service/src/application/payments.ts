import { type Kysely, sql } from 'kysely';
import { type AgentSpec } from '@meetmatt/contracts';
import { type BrainDb } from '../database';
import { type KnownPaymentStatus, paymentStatusRank } from '../domain/payment-status';

export interface PaymentFacts {
  paymentId: string;
  userId: string;
  status: KnownPaymentStatus;
  plan?: string;
  agent?: AgentSpec;
  autoDeploy?: boolean;
  maxAcuLimit?: number | undefined;
  confirmedAt?: string;
}

/** A status's rank in SQL (`paymentStatusRank`; a status it does not know ranks 0, as there). */
function rankOf(column: string) {
  const cases = Object.entries(paymentStatusRank).map(
    ([status, rank]) => sql`WHEN ${sql.lit(status)} THEN ${sql.lit(rank)}`,
  );
  return sql`(CASE ${sql.ref(column)} ${sql.join(cases, sql` `)} ELSE 0 END)`;
}

/**
 * Records what a message said about a payment, keeping the highest status seen, unless this
 * consumer's inbox already holds `messageId`. One statement, so one round trip and its own
 * transaction: the inbox row and the payment row commit together or not at all (what
 * `Inbox.once` gives, without BEGIN, the read FOR UPDATE and COMMIT on the hot path). A second
 * delivery of the message at once waits on the inbox row's key, then finds it and writes nothing.
 * Two messages of one payment at once are serialised by the upsert's row lock.
 */
export async function recordPaymentOnce(
  db: Kysely<BrainDb>,
  consumer: string,
  messageId: string,
  facts: PaymentFacts,
): Promise<'processed' | 'duplicate'> {
  const { rows } = await sql<{ fresh: boolean }>`
    WITH fresh AS (
      INSERT INTO inbox (consumer, message_id) VALUES (${consumer}, ${messageId})
      ON CONFLICT DO NOTHING
      RETURNING 1
    ), written AS (
      INSERT INTO payments AS p
        (payment_id, user_id, status, plan, agent, auto_deploy, max_acu_limit, confirmed_at)
      SELECT ${facts.paymentId}::uuid, ${facts.userId}::uuid, ${facts.status}, ${facts.plan ?? null},
        ${facts.agent ? JSON.stringify(facts.agent) : null}::jsonb, ${facts.autoDeploy ?? null}::boolean,
        ${facts.maxAcuLimit ?? null}::integer, ${facts.confirmedAt ?? null}::timestamptz
      WHERE EXISTS (SELECT 1 FROM fresh)
      ON CONFLICT (payment_id) DO UPDATE SET
        status = CASE WHEN ${rankOf('excluded.status')} > ${rankOf('p.status')}
          THEN excluded.status ELSE p.status END,
        plan = coalesce(p.plan, excluded.plan),
        agent = coalesce(excluded.agent, p.agent),
        auto_deploy = coalesce(p.auto_deploy, excluded.auto_deploy),
        max_acu_limit = coalesce(excluded.max_acu_limit, p.max_acu_limit),
        confirmed_at = coalesce(p.confirmed_at, excluded.confirmed_at),
        updated_at = now()
      RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM fresh) AS fresh`.execute(db);
  return rows[0]?.fresh ? 'processed' : 'duplicate';
}
