/** Capped exponential backoff with ±20% jitter; attempt counts from 1. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Sleeps `ms`; `onWake` receives a function that ends the sleep early (for shutdown). */
export function sleep(ms: number, onWake?: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    onWake?.(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
