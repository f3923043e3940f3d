import { randomUUID } from 'node:crypto';
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type Response,
} from 'express';
import { systemEndpoints } from '@meetmatt/contracts';
import { isUnavailableError } from '../db/unavailable';
import { type Logger } from '../logging/logger';
import { type Metrics } from '../metrics/metrics';
import { type LivenessReport } from '../runtime/liveness';
import { requestContext } from '../runtime/request-context';
import { type Authenticator } from './auth';
import { HttpError, clientMistake, problemBody } from './errors';
import { type ReadinessCheck, readinessHandler } from './readiness';
import { Routes } from './routes';

export interface HttpAppOptions {
  service: string;
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  /** The service's OpenAPI document, served at /openapi.json. */
  openapi?: Record<string, unknown>;
  /** Further JSON documents by path (user-service serves the gateway's merged OpenAPI). */
  documents?: Record<string, Record<string, unknown>>;
  authenticator?: Authenticator;
  /** Default JSON body limit; endpoints may set their own. */
  bodyLimit?: string;
  /** Routes logged at debug rather than info: hot paths such as the gateway's /auth/verify. */
  quietRoutes?: string[];
  /** Addresses of proxies whose X-Forwarded-For is believed (express `trust proxy`). */
  trustProxy?: boolean | string | number;
  routes: (routes: Routes) => void;
  /**
   * How long a request may take before it is answered 503 with Retry-After (default 15 s; 0
   * turns it off). A response already started (an event stream) is left alone.
   */
  requestTimeoutMs?: number;
  /** What /healthz reports; without it /healthz answers 200 whenever it can answer at all. */
  liveness?: { report(): LivenessReport };
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** Seconds a client is told to wait before trying a request the service could not serve. */
const RETRY_AFTER_SECONDS = 2;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * An express 5 application with the house conventions: request ids carried as correlation ids,
 * one log line per request, Prometheus metrics, validated endpoints, problem+json errors and a
 * JSON 404. Nothing here opens a port.
 */
export function createHttpApp(options: HttpAppOptions): express.Express {
  const { logger, metrics } = options;
  const quiet = new Set(options.quietRoutes ?? []);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', options.trustProxy ?? 'loopback');
  app.set('query parser', 'simple');

  app.use((req: Request, res: Response, next: NextFunction) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.locals.requestId = requestId;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeLabel(req);
      const labels = { method: req.method, route, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      if (route === '/healthz' || route === '/readyz' || route === '/metrics') return;
      const level = res.statusCode >= 500 ? 'error' : quiet.has(route) ? 'debug' : 'info';
      // A quiet route's line is dropped at level info: do not build it (the gateway's
      // /auth/verify comes here once per API call).
      if (!logger.isLevelEnabled(level)) return;
      logger.log(level, 'request', {
        correlationId: requestId,
        method: req.method,
        path: req.path,
        route,
        status: res.statusCode,
        durationMs: Math.round(seconds * 1e4) / 10,
        userId: (res.locals.principal as { userId?: string } | undefined)?.userId,
      });
    });
    requestContext.run({ correlationId: requestId }, () => next());
  });
  app.use(requestBudget(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));

  const routes = new Routes(express.Router(), {
    authenticator: options.authenticator,
    bodyLimit: options.bodyLimit ?? '100kb',
  });
  const liveness = options.liveness;
  app.get(systemEndpoints.healthz.path, (_req, res) => {
    const report = liveness?.report();
    if (!report || report.alive) {
      res.status(200).json({ status: 'ok' });
      return;
    }
    if (report.alive !== lastAlive) logger.error('not alive', { reason: report.reason });
    lastAlive = report.alive;
    res.status(503).json({ status: 'stuck', reason: report.reason });
  });
  let lastAlive = true;
  app.get(systemEndpoints.readyz.path, readinessHandler(options.readiness, logger, metrics));
  app.get(systemEndpoints.metrics.path, async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.text());
  });
  if (options.openapi) {
    const document = options.openapi;
    app.get('/openapi.json', (_req, res) => {
      res.json(document);
    });
  }
  for (const [path, document] of Object.entries(options.documents ?? {}))
    app.get(path, (_req, res) => {
      res.json(document);
    });
  options.routes(routes);
  app.use(routes.router);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(HttpError.notFound(`No route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));
  return app;
}

function routeLabel(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  return typeof route === 'string' ? route : 'unmatched';
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
  limit?: number;
}

/**
 * Answers 503 when a request runs past its budget, whatever it is waiting for (a hung database
 * connection, a lock, a provider): the client learns to retry instead of hanging with it. The
 * handler itself runs on; its late answer is dropped (routes skip a response already sent).
 */
function requestBudget(timeoutMs: number) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (timeoutMs <= 0 || req.headers.accept?.includes('text/event-stream')) return next();
    const timer = setTimeout(() => {
      if (res.headersSent) return;
      res
        .status(503)
        .setHeader('Retry-After', String(RETRY_AFTER_SECONDS))
        .type('application/problem+json')
        .send(
          JSON.stringify(
            problemBody(
              503,
              'request-timeout',
              `The request could not be completed within ${timeoutMs} ms; try again shortly`,
              req.originalUrl,
              res.locals.requestId as string | undefined,
            ),
          ),
        );
    }, timeoutMs);
    timer.unref();
    // 'close' follows 'finish' for every response, and comes alone when the client goes away.
    res.once('close', () => clearTimeout(timer));
    next();
  };
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const requestId = res.locals.requestId as string | undefined;
    const problem = toHttpError(error);
    if (problem.code === 'service-unavailable' && !(error instanceof HttpError)) {
      logger.warn('dependency unavailable', {
        correlationId: requestId,
        method: req.method,
        path: req.path,
        error: error instanceof Error ? error.message : String(error),
      });
    } else if (problem.status >= 500 && !(error instanceof HttpError)) {
      logger.error('unhandled error', {
        correlationId: requestId,
        method: req.method,
        path: req.path,
        error:
          error instanceof Error
            ? { name: error.name, message: error.message, stack: error.stack }
            : String(error),
      });
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(problem.extras.headers ?? {}))
      res.setHeader(name, value);
    res
      .status(problem.status)
      .type('application/problem+json')
      .send(
        JSON.stringify(
          problemBody(
            problem.status,
            problem.code,
            problem.detail,
            req.originalUrl,
            requestId,
            problem.extras.errors,
          ),
        ),
      );
  };
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const mistake = clientMistake(error);
  if (mistake) return mistake;
  if (isUnavailableError(error)) {
    return new HttpError(
      503,
      'service-unavailable',
      'A dependency of this service is unavailable for the moment; try again shortly',
      { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
    );
  }
  const parserError = error as BodyParserError;
  switch (parserError?.type) {
    case 'entity.parse.failed':
      return new HttpError(400, 'malformed-json', 'The body is not valid JSON', {
        errors: [{ field: 'body', in: 'body', message: 'not valid JSON' }],
      });
    case 'entity.too.large':
      return new HttpError(
        413,
        'body-too-large',
        `The body exceeds ${parserError.limit ?? 'the limit of'} bytes`,
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, 'unsupported-encoding', 'Unsupported body encoding or charset');
    case 'request.aborted':
      return new HttpError(400, 'request-aborted', 'The request was aborted');
    default:
      break;
  }
  if (parserError?.expose && typeof parserError.status === 'number' && parserError.status < 500) {
    return new HttpError(parserError.status, 'bad-request', (error as Error).message);
  }
  return new HttpError(
    500,
    'internal-error',
    'Something went wrong on our side; the request id identifies it',
  );
}
