import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { type z } from 'zod';
import { type Logger } from '@meetmatt/infra';
import { type FastApiValidationError } from './api-schemas';
import { type CallLog } from './sandbox-calls';
import { type Fault } from './sandbox-faults';

/** An answer in Devin's (FastAPI's) error shape: `{detail: "…"}`, or a 422 list. */
export class SandboxHttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string | FastApiValidationError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === 'string' ? detail : 'Validation error');
    this.name = 'SandboxHttpError';
  }

  static fromFault(fault: Fault): SandboxHttpError {
    const headers: Record<string, string> =
      fault.retryAfterSeconds === null ? {} : { 'Retry-After': String(fault.retryAfterSeconds) };
    return new SandboxHttpError(fault.status, fault.detail, headers);
  }
}

type Location = 'body' | 'query' | 'path';

/** Parses a part of a request; a failure is a FastAPI-style 422. */
export function parseOr422<S extends z.ZodType>(
  schema: S,
  value: unknown,
  location: Location,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new SandboxHttpError(422, validationErrors(result.error, location, value));
}

export function validationErrors(
  error: z.ZodError,
  location: Location,
  input: unknown,
): FastApiValidationError[] {
  return error.issues.map((issue) => {
    const loc = [location, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
    if (valueAt(input, issue.path) === undefined) {
      return { type: 'missing', loc, msg: 'Field required' };
    }
    if (issue.code === 'invalid_type') {
      return {
        type: `${issue.expected}_type`,
        loc,
        msg: `Input should be a valid ${issue.expected}`,
      };
    }
    return { type: 'value_error', loc, msg: issue.message };
  });
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** `Authorization: Bearer <key>`, compared in constant time. */
export function bearerAuth(apiKey: string): RequestHandler {
  const expected = digest(apiKey);
  return (req: Request, _res: Response, next: NextFunction) => {
    const match = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
    if (!match?.[1]) {
      throw new SandboxHttpError(401, 'Not authenticated', { 'WWW-Authenticate': 'Bearer' });
    }
    if (!timingSafeEqual(digest(match[1].trim()), expected)) {
      throw new SandboxHttpError(401, 'Invalid API key', { 'WWW-Authenticate': 'Bearer' });
    }
    next();
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Records each call once answered (its status known); headers, and so the key, never. */
export function recordCalls(calls: CallLog, logger?: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.on('finish', () => {
      calls.record({
        at: new Date().toISOString(),
        method: req.method,
        path: req.originalUrl.split('?')[0] ?? req.originalUrl,
        query: { ...(req.query as Record<string, unknown>) },
        body: req.body as unknown,
        status: res.statusCode,
      });
      logger?.info('devin sandbox call', {
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Math.round(performance.now() - started),
      });
    });
    next();
  };
}

export const notFound: RequestHandler = () => {
  throw new SandboxHttpError(404, 'Not Found');
};

/** Every error leaves in Devin's shape; a bug in the sandbox is a logged 500. */
export function errorHandler(logger?: Logger): ErrorRequestHandler {
  return (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof SandboxHttpError) {
      res.status(error.status).set(error.headers).json({ detail: error.detail });
      return;
    }
    const type = (error as { type?: unknown }).type;
    if (type === 'entity.parse.failed') {
      res
        .status(422)
        .json({ detail: [{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error' }] });
      return;
    }
    if (type === 'entity.too.large') {
      res.status(413).json({ detail: 'Request body too large' });
      return;
    }
    logger?.error('devin sandbox error', { error });
    res.status(500).json({ detail: 'Internal Server Error' });
  };
}
