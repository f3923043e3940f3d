import { backoffDelay, sleep } from '../runtime/backoff';
import { resolveContext } from './context';
import { ProjectionStateError, errorMessage } from './errors';
import { rebuildProjection } from './rebuild';
import { type ProjectionRunnerOptions } from './runner';
import { loadStatusRow } from './status-rows';

/**
 * The live tables are an older version than this code: build the new version beside them.
 * Whichever instance gets the rebuild lock does it, leader or not, so during a rolling deploy
 * an old instance can keep the live tables current until the swap. Resolves once the live
 * tables are this version (or newer), or when `signal` aborts.
 */
export async function rebuildToCodeVersion<DB>(
  options: ProjectionRunnerOptions<DB>,
  signal: AbortSignal,
  swapped: () => Promise<void>,
): Promise<void> {
  const { projection } = options;
  const { db, logger } = resolveContext(options);
  let failures = 0;
  while (!signal.aborted) {
    try {
      const row = await loadStatusRow(db, projection.name);
      if (!row || row.version >= projection.version) return;
      await rebuildProjection(options, projection, {
        signal,
        ...(options.onRebuildProgress ? { onProgress: options.onRebuildProgress } : {}),
      });
      await swapped();
      return;
    } catch (error) {
      if (signal.aborted) return;
      // Busy elsewhere: look again soon. Failed (a poison event, say): every attempt starts
      // over from position 0, so wait longer and longer for an operator or a fix.
      const busy = error instanceof ProjectionStateError;
      if (!busy) {
        failures += 1;
        logger?.error('projection rebuild failed', {
          projection: projection.name,
          error: errorMessage(error),
          attempt: failures,
        });
      }
      const wait = busy
        ? (options.leaderRetryMs ?? 2_000)
        : backoffDelay(failures, 10_000, 600_000);
      await sleep(wait, signal);
    }
  }
}
