import { type Problem, ProblemSchema } from '@meetmatt/contracts';

/** A field the API refused, as a 400's `errors` names it. */
export type FieldError = NonNullable<Problem['errors']>[number];

/** What every error of the client carries: the request it belongs to and how often it was tried. */
interface Attempted {
  /** `METHOD /path`, the path with its parameters filled in. */
  request: string;
  /** How many times the request was sent (more than 1 after a retry). */
  attempts: number;
}

/**
 * An error answer of the API (RFC 9457 problem+json): its status and problem, the fields it
 * names, the `X-Request-Id` (for `meetmatt trace`) and the `Retry-After` it asked for.
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly problem: Problem;
  readonly requestId: string | null;
  /** `Retry-After` in milliseconds, when the answer carried one (429, 503). */
  readonly retryAfterMs: number | undefined;
  readonly request: string;
  readonly attempts: number;

  constructor(
    status: number,
    problem: Problem,
    meta: Attempted & { requestId: string | null; retryAfterMs?: number | undefined },
  ) {
    super(
      `${meta.request} answered ${status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`,
    );
    this.name = 'ProblemError';
    this.status = status;
    this.problem = problem;
    this.requestId = meta.requestId;
    this.retryAfterMs = meta.retryAfterMs;
    this.request = meta.request;
    this.attempts = meta.attempts;
  }

  get type(): string {
    return this.problem.type;
  }

  get title(): string {
    return this.problem.title;
  }

  get detail(): string | undefined {
    return this.problem.detail;
  }

  /** One entry per invalid field (a 400); empty otherwise. */
  get fieldErrors(): FieldError[] {
    return this.problem.errors ?? [];
  }

  /** The message for one field (dotted path, e.g. `agent.name`), if the API refused it. */
  fieldError(field: string): string | undefined {
    return this.fieldErrors.find((e) => e.field === field)?.message;
  }
}

/** The call ran past its time budget (`timeoutMs`) on every attempt it was allowed. */
export class TimeoutError extends Error {
  constructor(
    readonly request: string,
    readonly timeoutMs: number,
    readonly attempts: number,
  ) {
    super(`${request} got no answer within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/** No answer at all: the connection was refused or dropped (fetch's TypeError is the cause). */
export class NetworkError extends Error {
  constructor(
    readonly request: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`${request} failed: ${(cause as Error).message}`, { cause });
    this.name = 'NetworkError';
  }
}

/** A success answer whose body the contract does not describe: the client and API disagree. */
export class UnexpectedResponseError extends Error {
  constructor(
    readonly request: string,
    readonly status: number,
    reason: string,
  ) {
    super(`${request} answered ${status} with a body the contract does not describe: ${reason}`);
    this.name = 'UnexpectedResponseError';
  }
}

/** The problem of an error answer; a body that is not one (an HTML page) becomes about:blank. */
export function problemOf(status: number, statusText: string, text: string): Problem {
  try {
    const parsed = ProblemSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: fall through
  }
  return { type: 'about:blank', title: statusText || `HTTP ${status}`, status };
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date; undefined when absent or bad. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
