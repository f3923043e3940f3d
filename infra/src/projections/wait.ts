import { type Position } from '../event-store/types';
import { type PassOutcome, type ProjectionRunner } from './runner';

export interface WaitResult {
  /** Every projection has passed the position. */
  ok: boolean;
  /** Those that have not, and why: timed out, or failed/stopped/rebuilding (not waited for). */
  pending: { projection: string; outcome: Exclude<PassOutcome, 'passed'> }[];
}

/**
 * Read-your-writes: resolves once every runner's projection has applied or examined everything
 * up to `position` (a projection not interested in the events there passes it as soon as its
 * subscription has looked), or after `timeoutMs`. Never throws on a timeout: the write happened,
 * and the caller answers anyway, perhaps saying the read model is behind.
 */
export async function waitForProjections(
  runners: Iterable<Pick<ProjectionRunner, 'name' | 'passed'>>,
  position: Position | undefined,
  timeoutMs = 2_000,
): Promise<WaitResult> {
  if (!position) return { ok: true, pending: [] };
  const deadline = Date.now() + timeoutMs;
  const outcomes = await Promise.all(
    [...runners].map(async (runner) => ({
      projection: runner.name,
      outcome: await runner.passed(position, deadline).catch(() => 'timeout' as const),
    })),
  );
  const pending = outcomes.filter(
    (o): o is WaitResult['pending'][number] => o.outcome !== 'passed',
  );
  return { ok: pending.length === 0, pending };
}
