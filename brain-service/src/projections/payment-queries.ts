import { type Kysely } from 'kysely';
import { type AgentSpec } from '@meetmatt/contracts';
import { type BrainDb } from '../database';
import { type KnownPaymentStatus } from '../domain/payment-status';

/** What the brain knows of a payment (the payment-events consumer writes it). */
export interface PaymentRow {
  paymentId: string;
  userId: string;
  status: KnownPaymentStatus;
  plan: string | null;
  agent: AgentSpec | null;
  autoDeploy: boolean | null;
  maxAcuLimit: number | null;
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
