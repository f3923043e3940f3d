import { type Transaction } from 'kysely';
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
