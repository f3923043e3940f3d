/**
 * Whether an error says a dependency is unavailable for now (a connection lost or refused, the
 * server shutting down, a pool with no free connection, a statement or lock that ran out of
 * time) rather than that the request or the code is wrong. Such a request may succeed if sent
 * again in a moment: it answers 503 with Retry-After, never 500.
 */
export function isUnavailableError(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    if (isUnavailableItself(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * SQLSTATEs: 08 connection exception; 57P01-57P05 admin/crash shutdown, cannot connect now,
 * idle session timeouts; 57014 query cancelled (statement_timeout); 55P03 lock not available
 * (lock_timeout); 53300 too many connections; 40001/40P01 serialization failure or deadlock,
 * which the next attempt usually passes.
 */
const UNAVAILABLE_SQLSTATES = /^(08...|57P0[1-5]|57014|55P03|53300|40001|40P01)$/;

/** Node socket errors. */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** node-postgres and pg-pool say these in words only. */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /is not queryable/,
  /^Client was closed and is not queryable/,
  /^Cannot use a pool after calling end/,
  /^Connection closed/,
  /^database did not answer/,
];

function isUnavailableItself(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNAVAILABLE_SQLSTATES.test(code)) return true;
    if (UNAVAILABLE_ERRNOS.has(code)) return true;
  }
  const message = (error as { message?: unknown }).message;
  return (
    typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message))
  );
}
