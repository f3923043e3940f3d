import { sql } from 'kysely';
import { type UserContext } from './context';

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

/** The period asked for, by default the 30 days up to today (UTC). */
export function usagePeriod(now: Date, from?: string, to?: string): { from: string; to: string } {
  const end = to ?? now.toISOString().slice(0, 10);
  const start = from ?? new Date(Date.parse(end) - 29 * 86_400_000).toISOString().slice(0, 10);
  return { from: start, to: end };
}

/**
 * API requests per day (this instance's unflushed counts are written first, so a caller sees
 * its own requests), and payment and agent figures from the events consumed from the bus.
 */
export async function getUsage(
  ctx: UserContext,
  userId: string,
  period: { from: string; to: string },
): Promise<UsageView> {
  await ctx.usage.flush();
  const [days, facts, amounts] = await Promise.all([
    ctx.db
      .selectFrom('api_usage_daily')
      .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'requests'])
      .where('user_id', '=', userId)
      .where('day', '>=', period.from)
      .where('day', '<=', period.to)
      .orderBy('day')
      .execute(),
    ctx.db
      .selectFrom('usage_facts')
      .select(['kind', (eb) => eb.fn.countAll<number>().as('n')])
      .where('user_id', '=', userId)
      .where('day', '>=', period.from)
      .where('day', '<=', period.to)
      .groupBy('kind')
      .execute(),
    ctx.db
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
