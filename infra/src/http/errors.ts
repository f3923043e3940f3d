import { type Problem } from '@meetmatt/contracts';
import { type DomainError } from '../domain';

export type FieldError = NonNullable<Problem['errors']>[number];

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * The one error type that reaches HTTP. `code` names the kind of problem (it becomes the
 * problem `type`), `detail` says what went wrong with this request.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly extras: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpError';
  }

  static badRequest(detail: string, errors?: FieldError[]): HttpError {
    return new HttpError(400, 'validation-error', detail, errors ? { errors } : {});
  }
  static unauthorized(detail = 'Missing or invalid credentials'): HttpError {
    return new HttpError(401, 'unauthorized', detail, {
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  }
  static forbidden(detail = 'Not allowed'): HttpError {
    return new HttpError(403, 'forbidden', detail);
  }
  static notFound(detail = 'Not found'): HttpError {
    return new HttpError(404, 'not-found', detail);
  }
  static conflict(detail: string, code = 'conflict'): HttpError {
    return new HttpError(409, code, detail);
  }
  static preconditionFailed(detail: string): HttpError {
    return new HttpError(412, 'precondition-failed', detail);
  }
  static tooManyRequests(detail: string, retryAfterSeconds: number): HttpError {
    return new HttpError(429, 'rate-limited', detail, {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
  static badGateway(detail: string): HttpError {
    return new HttpError(502, 'provider-error', detail);
  }
}

/** How the answer to one domain error differs from the plain one (see `problemForDomainError`). */
export interface DomainProblem {
  status: number;
  /** The problem's code (its `type`); the domain error's own code when absent. */
  code?: string;
  /** The detail, from the domain error's message; the message itself when absent. */
  detail?: (message: string) => string;
  /** The field of the request the broken rule is about: answered as a validation error is. */
  field?: Omit<FieldError, 'message'>;
}

/** A service's answers to its domain errors, by code: a status, or how it differs. */
export type DomainProblems = Readonly<Record<string, number | DomainProblem>>;

/**
 * A domain error as the problem+json it is answered with: the one mapping every service uses,
 * each with its own table. The code becomes the problem type and the message the detail unless
 * the table says otherwise; a code the table does not name is answered as `otherwise` (409: the
 * aggregate refused the command). A 401 carries `WWW-Authenticate`, a 429 `Retry-After` (from
 * the error's `retryAfterSeconds`), and a 400 with a field names it as validation errors do.
 */
export function problemForDomainError(
  error: DomainError & { retryAfterSeconds?: number },
  problems: DomainProblems,
  otherwise: number | DomainProblem = 409,
): HttpError {
  const entry = problems[error.code] ?? otherwise;
  const {
    status,
    code = error.code,
    detail,
    field,
  } = typeof entry === 'number' ? ({ status: entry } as DomainProblem) : entry;
  const headers: Record<string, string> = {};
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
  if (status === 429) headers['Retry-After'] = String(error.retryAfterSeconds ?? 1);
  const extras = {
    ...(field ? { errors: [{ ...field, message: error.message }] } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
  const fieldName = field ? `${field.in === 'body' ? '' : `${field.in} `}${field.field}` : '';
  return new HttpError(
    status,
    code,
    detail?.(error.message) ??
      (field ? `Invalid request: ${fieldName}: ${error.message}` : error.message),
    extras,
  );
}

export function problemBody(
  status: number,
  code: string,
  detail: string | undefined,
  instance?: string,
  requestId?: string,
  errors?: FieldError[],
): Problem {
  return {
    type: `https://docs.meetmatt.ai/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    ...(detail ? { detail } : {}),
    ...(instance ? { instance } : {}),
    ...(requestId ? { requestId } : {}),
    ...(errors ? { errors } : {}),
  };
}

/**
 * A client's mistake that the framework raises without marking it as one: the router throws a
 * URIError (status 400, not `expose`d) when a path parameter's percent-encoding does not decode
 * (`/users/%ZZ`), which would otherwise be answered 500.
 */
export function clientMistake(error: unknown): HttpError | undefined {
  if (error instanceof URIError && (error as { status?: unknown }).status === 400) {
    return new HttpError(400, 'malformed-path', 'The path is not valid percent-encoding', {
      errors: [{ field: 'path', in: 'params', message: 'not valid percent-encoding' }],
    });
  }
  return undefined;
}
