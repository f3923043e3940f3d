/**
 * The one wait of the code base: every retry loop, reconnect and periodic task sleeps here, and
 * so does a test where time itself must pass (a lease running out, nothing arriving). A test
 * waiting for something to happen polls for it instead: `eventually` in `@meetmatt/infra/testing`
 * (`untilAnswering` for a server just started), or `pollUntil` when a deadline is not a failure.
 */

/**
 * How long to wait before retry `attempt` (counted from 1): full jitter, anywhere between
 * `minMs` and a ceiling that doubles with each attempt (2 × `minMs` first) and stops at `maxMs`.
 * Never shorter than `minMs` (no hot loop), never longer than `maxMs`; spread over the whole
 * range so that instances failing together do not come back together.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(1, attempt));
  if (ceiling <= minMs) return Math.min(minMs, maxMs);
  return Math.round(minMs + Math.random() * (ceiling - minMs));
}

/**
 * Waits `ms`, or less when `signal` aborts: it resolves then (never rejects), so a stopping loop
 * wakes at once and checks its own state. Leaves no timer or listener behind.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}
