import { type Kysely, type Transaction } from 'kysely';
import { type AgentSpec } from '@meetmatt/contracts';
import { type BrainDb } from '../database';

/**
 * What a payment can be as far as the brain knows. A payment only moves up this order (the
 * payment service never moves one backwards, and a late or repeated message must not either):
 * a refund, asked for or made, outranks the confirmation it undoes. An underpaid payment may
 * still be completed by a later deposit, so it ranks below the confirmation.
 */
export const paymentStatusRank = {
  pending: 0,
  failed: 1,
  expired: 1,
  partially_paid: 1,
  underpaid: 1,
  mismatched: 1,
  confirmed: 2,
  refund_requested: 3,
  refunded: 4,
} as const;
export type KnownPaymentStatus = keyof typeof paymentStatusRank;

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

export interface PaymentRow {
  paymentId: string;
  userId: string;
  status: KnownPaymentStatus;
  plan: string | null;
  agent: AgentSpec | null;
  autoDeploy: boolean | null;
  maxAcuLimit: number | null;
}

/** Records what a message said about a payment, keeping the highest status seen. */
export async function recordPayment(trx: Transaction<BrainDb>, facts: PaymentFacts): Promise<void> {
  const inserted = await trx
    .insertInto('payments')
    .values({
      payment_id: facts.paymentId,
      user_id: facts.userId,
      status: facts.status,
      plan: facts.plan ?? null,
      agent: facts.agent ? JSON.stringify(facts.agent) : null,
      auto_deploy: facts.autoDeploy ?? null,
      max_acu_limit: facts.maxAcuLimit ?? null,
      confirmed_at: facts.confirmedAt ?? null,
    })
    .onConflict((oc) => oc.column('payment_id').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return;
  const current = await trx
    .selectFrom('payments')
    .selectAll()
    .where('payment_id', '=', facts.paymentId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const rank = paymentStatusRank[current.status as KnownPaymentStatus] ?? 0;
  await trx
    .updateTable('payments')
    .set({
      status: paymentStatusRank[facts.status] > rank ? facts.status : current.status,
      plan: current.plan ?? facts.plan ?? null,
      agent: JSON.stringify(facts.agent ?? current.agent),
      auto_deploy: current.auto_deploy ?? facts.autoDeploy ?? null,
      max_acu_limit: facts.maxAcuLimit ?? current.max_acu_limit,
      confirmed_at: current.confirmed_at ?? facts.confirmedAt ?? null,
      updated_at: new Date(),
    })
    .where('payment_id', '=', facts.paymentId)
    .execute();
}

export async function findPayment(
  db: Kysely<BrainDb>,
  paymentId: string,
): Promise<PaymentRow | undefined> {
  const row = await db
    .selectFrom('payments')
    .selectAll()
    .where('payment_id', '=', paymentId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    paymentId: row.payment_id,
    userId: row.user_id,
    status: row.status as KnownPaymentStatus,
    plan: row.plan,
    agent: row.agent,
    autoDeploy: row.auto_deploy,
    maxAcuLimit: row.max_acu_limit,
  };
}
