import { pollUntil } from '../runtime/poll';

export interface EventuallyOptions {
  /** How long to keep trying (default 20 s: servers under a loaded run are slow). */
  timeoutMs?: number;
  /** The pause between tries (default 20 ms). */
  intervalMs?: number;
}

/**
 * Polls `probe` (on the runtime's `pollUntil`) until it passes, and returns what it returned. The probe has not passed yet
 * while it throws (a failed `expect`, a refused connection) or returns `false`; anything else,
 * `undefined` included, passes. A value that may be missing says so: `find(...) ?? false`.
 * After the deadline it fails naming `what` it waited for and the probe's last error.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | false | Promise<T | false>,
  options: EventuallyOptions | number = {},
): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 20 } =
    typeof options === 'number' ? { timeoutMs: options } : options;
  let lastError: unknown;
  const polled = await pollUntil(
    async () => {
      try {
        const value = await probe();
        lastError = undefined;
        return value;
      } catch (error) {
        lastError = error;
        return false;
      }
    },
    { timeoutMs, intervalMs },
  );
  if (polled.passed) return polled.value;
  throw timedOut(what, timeoutMs, lastError);
}

function timedOut(what: string, timeoutMs: number, lastError: unknown): Error {
  const last =
    lastError === undefined
      ? ''
      : `; last try: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`;
  return new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`, {
    cause: lastError,
  });
}

/**
 * Until a GET of `url` answers `status` (default 200): a server, a gateway or a sandbox that has
 * just been started. Each try gives up after 2 s; the wait fails like `eventually`'s, with the
 * last answer or error.
 */
export async function untilAnswering(
  url: string,
  options: EventuallyOptions & { status?: number } = {},
): Promise<void> {
  const { status = 200, timeoutMs = 20_000, intervalMs = 50 } = options;
  await eventually(
    `${url} to answer ${status}`,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await res.text();
      if (res.status !== status) throw new Error(`${res.status} ${body.slice(0, 200)}`);
    },
    { timeoutMs, intervalMs },
  );
}
