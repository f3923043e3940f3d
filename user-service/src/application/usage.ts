import { type UsageView, usageOf } from '../projections/usage-queries';
import { type UserDependencies } from './dependencies';

export type { UsageView };

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
  deps: Pick<UserDependencies, 'db' | 'usage'>,
  userId: string,
  period: { from: string; to: string },
): Promise<UsageView> {
  await deps.usage.flush();
  return usageOf(deps.db, userId, period);
}
