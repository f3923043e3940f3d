import { type Problem } from '@meetmatt/contracts';

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
