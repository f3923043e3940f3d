import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { type z } from 'zod';
import { type EndpointDef } from '@meetmatt/contracts';
import { requestContext } from '../runtime/request-context';
import { type Authenticator, type Principal } from './auth';
import { HttpError } from './errors';
import { parseOrThrow } from './validation';

type Parsed<S, Fallback> = S extends z.ZodType ? z.output<S> : Fallback;

export interface HandlerContext<E extends EndpointDef> {
  params: Parsed<E['params'], Record<string, never>>;
  query: Parsed<E['query'], Record<string, never>>;
  body: Parsed<E['body'], undefined>;
  principal: E['auth'] extends 'user' | 'admin' ? Principal : Principal | undefined;
  requestId: string;
  req: Request;
  res: Response;
}

/** What a handler answers; `undefined` means it wrote the response itself (streams). */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Defaults to application/json when there is a body. */
  contentType?: string;
}

export type Handler<E extends EndpointDef> = (ctx: HandlerContext<E>) => Promise<Reply | undefined>;

export interface RouteOptions {
  /**
   * Runs after the body is read and before anything is validated: a webhook proves its
   * signature here, so an unsigned request gets 401 whatever its body.
   */
  verify?: (req: Request, res: Response) => Promise<void> | void;
}

/** Mounts endpoints described in contracts/, so validation and documentation share one source. */
export class Routes {
  private readonly jsonParsers = new Map<string, RequestHandler>();

  constructor(
    readonly router: Router,
    private readonly options: { authenticator?: Authenticator; bodyLimit: string },
  ) {}

  add<E extends EndpointDef>(endpoint: E, handler: Handler<E>, options: RouteOptions = {}): void {
    const chain: RequestHandler[] = [];
    if (endpoint.body) chain.push(this.jsonParser(endpoint.bodyLimit ?? this.options.bodyLimit));
    const { verify } = options;
    if (verify)
      chain.push(async (req, res, next) => {
        await verify(req, res);
        next();
      });
    if (endpoint.body) chain.push(requireJson);
    if (endpoint.auth === 'user' || endpoint.auth === 'admin')
      chain.push(this.authenticate(endpoint.auth));
    else if (endpoint.auth === 'none' && this.options.authenticator)
      chain.push(this.authenticate('optional'));
    chain.push(async (req, res) => {
      const ctx = {
        params: endpoint.params ? parseOrThrow(endpoint.params, req.params, 'params') : {},
        query: endpoint.query ? parseOrThrow(endpoint.query, req.query, 'query') : {},
        body: endpoint.body ? parseOrThrow(endpoint.body, req.body, 'body') : undefined,
        principal: res.locals.principal as Principal | undefined,
        requestId: res.locals.requestId as string,
        req,
        res,
      } as HandlerContext<E>;
      const reply = await handler(ctx);
      if (!reply || res.headersSent) return;
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      res.status(reply.status);
      if (reply.body === undefined) {
        res.end();
      } else if (reply.contentType && !reply.contentType.includes('json')) {
        res.type(reply.contentType).send(reply.body);
      } else {
        res.type(reply.contentType ?? 'application/json').send(JSON.stringify(reply.body));
      }
    });
    this.router[endpoint.method](endpoint.path, ...chain);
  }

  private jsonParser(limit: string): RequestHandler {
    let parser = this.jsonParsers.get(limit);
    if (!parser) {
      parser = express.json({ limit, type: ['application/json', 'application/*+json'] });
      this.jsonParsers.set(limit, parser);
    }
    return parser;
  }

  private authenticate(mode: 'user' | 'admin' | 'optional'): RequestHandler {
    return async (req, res, next) => {
      const principal = this.options.authenticator
        ? await this.options.authenticator.authenticate(req)
        : null;
      if (!principal) {
        if (mode === 'optional') return next();
        throw HttpError.unauthorized();
      }
      if (mode === 'admin' && principal.role !== 'admin')
        throw HttpError.forbidden('Operators only');
      res.locals.principal = principal;
      const context = requestContext.get();
      if (context) context.userId = principal.userId;
      next();
    };
  }
}

/** A body sent as something other than JSON is refused rather than read as empty. */
const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody =
    Number(req.headers['content-length'] ?? 0) > 0 ||
    req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    throw new HttpError(415, 'unsupported-media-type', 'Send the body as application/json');
  }
  next();
};
