import { type Kysely, sql } from 'kysely';
import { type UserDb } from '../database';

export interface UsageView {
  from: string;
  to: string;
  apiRequests: { total: number; byDay: { day: string; count: number }[] };
  payments: {
    count: number;
    confirmed: number;
    failed: number;
    amountByCurrency: { currency: string; amount: number }[];
  };
  agents: { deployed: number; failed: number; rebuilds: number };
}

/** API requests per day, and payment and agent figures from the events consumed from the bus. */
export async function usageOf(
  db: Kysely<UserDb>,
  userId: string,
  period: { from: string; to: string },
): Promise<UsageView> {
  const [days, facts, amounts] = await Promise.all([
    db
      .selectFrom('api_usage_daily')
      .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'requests'])
      .where('user_id', '=', userId)
      .where('day', '>=', period.from)
      .where('day', '<=', period.to)
      .orderBy('day')
      .execute(),
    db
      .selectFrom('usage_facts')
      .select(['kind', (eb) => eb.fn.countAll<number>().as('n')])
      .where('user_id', '=', userId)
      .where('day', '>=', period.from)
      .where('day', '<=', period.to)
      .groupBy('kind')
      .execute(),
    db
      .selectFrom('usage_facts')
      .select(['currency', sql<string>`sum(amount)`.as('amount')])
      .where('user_id', '=', userId)
      .where('kind', '=', 'payment.confirmed')
      .where('currency', 'is not', null)
      .where('day', '>=', period.from)
      .where('day', '<=', period.to)
      .groupBy('currency')
      .orderBy('currency')
      .execute(),
  ]);
  const count = (kind: string) => Number(facts.find((f) => f.kind === kind)?.n ?? 0);
  const byDay = days.map((d) => ({ day: d.day, count: Number(d.requests) }));
  return {
    ...period,
    apiRequests: { total: byDay.reduce((sum, d) => sum + d.count, 0), byDay },
    payments: {
      count: count('payment.opened'),
      confirmed: count('payment.confirmed'),
      failed: count('payment.failed'),
      amountByCurrency: amounts.map((a) => ({ currency: a.currency!, amount: Number(a.amount) })),
    },
    agents: {
      deployed: count('agent.deployed'),
      failed: count('agent.failed'),
      rebuilds: count('agent.rebuild'),
    },
  };
}
