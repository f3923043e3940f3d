import { sleep } from './backoff';

export interface PollOptions {
  /** How long to keep trying, counted from the first try. */
  timeoutMs: number;
  /** The first pause between tries (default 20 ms). */
  intervalMs?: number;
  /** Pauses grow by half each try up to this (default `intervalMs`: they stay the same). */
  maxIntervalMs?: number;
  /** Stops the polling early; it then ends as a timeout would. */
  signal?: AbortSignal;
}

/** What `pollUntil` ends with: the probe's value, or `passed: false` when time ran out. */
export type Polled<T> = { passed: true; value: T } | { passed: false };

/**
 * The one polling loop of the code base: tries `probe` until it returns anything but `false`
 * (`undefined` passes too; a value that may be missing says `?? false`), pausing between tries
 * on the shared `sleep`. A probe that throws ends the polling with that error: runtime code
 * decides itself what is worth another try. Tests use `eventually` (`@meetmatt/infra/testing`),
 * which is this loop with every error taken as "not yet".
 */
export async function pollUntil<T>(
  probe: () => T | false | Promise<T | false>,
  options: PollOptions,
): Promise<Polled<T>> {
  const { timeoutMs, intervalMs = 20, signal } = options;
  const maxIntervalMs = Math.max(intervalMs, options.maxIntervalMs ?? intervalMs);
  const deadline = Date.now() + timeoutMs;
  for (let pause = intervalMs; ; pause = Math.min(pause * 1.5, maxIntervalMs)) {
    const value = await probe();
    if (value !== false) return { passed: true, value };
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) return { passed: false };
    await sleep(Math.min(pause, left), signal);
  }
}
