import { z } from 'zod';
import { FastApiValidationErrorSchema } from './api-schemas';

/**
 * - `http`: Devin answered with an error status.
 * - `timeout`: no complete answer within the client's `timeoutMs`.
 * - `network`: the request never got an answer (refused, reset, DNS).
 * - `invalid-response`: a 2xx whose body does not have the documented shape.
 * - `aborted`: the caller's signal ended the call.
 */
export type DevinFailureKind = 'http' | 'timeout' | 'network' | 'invalid-response' | 'aborted';

export interface DevinErrorInit {
  kind: DevinFailureKind;
  method: string;
  path: string;
  status: number | null;
  detail: string;
  retryable: boolean;
  attempts: number;
  /** What Devin's Retry-After asked for, when it was longer than the client would wait. */
  retryAfterMs?: number | null;
  cause?: unknown;
}

/**
 * A Devin call that did not succeed, after the client's retries. `retryable` says whether the
 * same call could succeed later (rate limits, 5xx, timeouts), so a poller can keep polling
 * instead of failing the build. Never carries the API key.
 */
export class DevinError extends Error {
  readonly kind: DevinFailureKind;
  readonly method: string;
  readonly path: string;
  readonly status: number | null;
  readonly detail: string;
  readonly retryable: boolean;
  readonly attempts: number;
  readonly retryAfterMs: number | null;

  constructor(init: DevinErrorInit) {
    const what = init.status === null ? init.kind : String(init.status);
    super(`Devin ${init.method} ${init.path} failed (${what}): ${init.detail}`, {
      cause: init.cause,
    });
    this.name = 'DevinError';
    this.kind = init.kind;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.detail = init.detail;
    this.retryable = init.retryable;
    this.attempts = init.attempts;
    this.retryAfterMs = init.retryAfterMs ?? null;
  }

  get timeout(): boolean {
    return this.kind === 'timeout';
  }

  get network(): boolean {
    return this.kind === 'network';
  }
}

const DetailBody = z.object({ detail: z.unknown() });
const ValidationDetail = z.array(FastApiValidationErrorSchema);
const MAX_DETAIL = 500;

/**
 * A readable sentence from a Devin error body: `{detail: "…"}` as is, FastAPI's 422 list as
 * `body.prompt: Field required; …`, anything else (a proxy's HTML page) shortened.
 */
export function readDetail(status: number, body: unknown): string {
  const withDetail = DetailBody.safeParse(body);
  if (withDetail.success) {
    const { detail } = withDetail.data;
    if (typeof detail === 'string') return shorten(detail);
    const validation = ValidationDetail.safeParse(detail);
    if (validation.success && validation.data.length > 0) {
      return shorten(validation.data.map((e) => `${e.loc.join('.')}: ${e.msg}`).join('; '));
    }
    return shorten(JSON.stringify(detail));
  }
  if (typeof body === 'string' && body.trim() !== '') return shorten(body.trim());
  return `HTTP ${status}`;
}

function shorten(text: string): string {
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}…` : text;
}
