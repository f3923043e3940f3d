import { backoffDelay } from '@meetmatt/infra';

export interface DevinRetryPolicy {
  /** Attempts in all, the first included (1 = never retry). */
  maxAttempts: number;
  minDelayMs: number;
  /** The longest the client waits between attempts, Retry-After included. */
  maxDelayMs: number;
}

export const defaultRetryPolicy: DevinRetryPolicy = {
  maxAttempts: 4,
  minDelayMs: 500,
  maxDelayMs: 10_000,
};

/** Rate limits and server errors may pass; any other status will answer the same again. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Retry-After in milliseconds, from delay-seconds or an HTTP date; null when absent or bad. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP date has a weekday and a month name; Date.parse alone would read "1.5" as a date.
  const date = /[a-z]/i.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * How long to wait before attempt `attempt + 1`: exponential backoff with jitter, never shorter
 * than what the server asked for. `null` when the server asked for longer than the policy
 * allows: the caller gets an error carrying `retryAfterMs` and can come back later, rather than
 * a call that hangs for minutes.
 */
export function retryDelay(
  policy: DevinRetryPolicy,
  attempt: number,
  retryAfterMs: number | null,
): number | null {
  const backoff = backoffDelay(attempt, policy.minDelayMs, policy.maxDelayMs);
  if (retryAfterMs === null) return backoff;
  if (retryAfterMs > policy.maxDelayMs) return null;
  return Math.max(retryAfterMs, backoff);
}
