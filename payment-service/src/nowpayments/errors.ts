/**
 * Why a NOWPayments call did not give us an answer we can use:
 * - `http`: the provider answered with a non-2xx status (its `code` and `message` when it sent
 *   the documented error body);
 * - `timeout`: no complete answer within the client's `timeoutMs`;
 * - `network`: the connection failed (refused, reset, DNS);
 * - `bad-response`: a 2xx whose body is not JSON or does not match the documented shape.
 */
export type NowPaymentsErrorKind = 'http' | 'timeout' | 'network' | 'bad-response';

export interface NowPaymentsErrorDetails {
  kind: NowPaymentsErrorKind;
  method: string;
  path: string;
  /** The HTTP status, when an answer arrived. */
  httpStatus?: number | undefined;
  /** The provider's error code (`INVALID_REQUEST_PARAMS`, `INVALID_API_KEY`, …). */
  code?: string | undefined;
  /** The provider's own message, or what went wrong on our side. */
  detail: string;
  cause?: unknown;
}

/** The one error the client throws. It never carries the API key. */
export class NowPaymentsError extends Error {
  readonly kind: NowPaymentsErrorKind;
  readonly method: string;
  readonly path: string;
  readonly httpStatus: number | undefined;
  readonly code: string | undefined;
  readonly detail: string;

  constructor(details: NowPaymentsErrorDetails) {
    super(describe(details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NowPaymentsError';
    this.kind = details.kind;
    this.method = details.method;
    this.path = details.path;
    this.httpStatus = details.httpStatus;
    this.code = details.code;
    this.detail = details.detail;
  }

  /** Worth trying again later: the provider was unreachable, slow, overloaded or failing. */
  get retryable(): boolean {
    if (this.kind === 'timeout' || this.kind === 'network') return true;
    return this.httpStatus !== undefined && (this.httpStatus >= 500 || this.httpStatus === 429);
  }
}

function describe(d: NowPaymentsErrorDetails): string {
  const call = `NOWPayments ${d.method} ${d.path}`;
  switch (d.kind) {
    case 'http':
      return `${call} answered ${d.httpStatus}${d.code ? ` ${d.code}` : ''}: ${d.detail}`;
    case 'timeout':
      return `${call} timed out: ${d.detail}`;
    case 'network':
      return `${call} failed: ${d.detail}`;
    case 'bad-response':
      return `${call} answered ${d.httpStatus ?? '?'} with an unexpected body: ${d.detail}`;
  }
}
