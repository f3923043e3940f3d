import { type EndpointDef } from '@meetmatt/contracts';
import {
  type HandlerContext,
  HttpError,
  type Principal,
  type Reply,
  type Routes,
} from '@meetmatt/infra';

/**
 * `defineEndpoint` widens `auth` to the union and `body` to optional, so the http kit cannot see
 * that a `user` endpoint always has a principal or that an endpoint with a body schema always has
 * a parsed body. These wrappers state it once (and check it) instead of at every handler.
 */
export type StrictContext<E extends EndpointDef> = Omit<HandlerContext<E>, 'body' | 'principal'> & {
  body: NonNullable<HandlerContext<E>['body']>;
  principal: Principal;
};

export type PublicContext<E extends EndpointDef> = Omit<HandlerContext<E>, 'body'> & {
  body: NonNullable<HandlerContext<E>['body']>;
};

/** An endpoint with `auth: 'user' | 'admin'`: the principal is there. */
export function addAuthenticated<E extends EndpointDef>(
  routes: Routes,
  endpoint: E,
  handler: (ctx: StrictContext<E>) => Promise<Reply | undefined>,
): void {
  if (endpoint.auth !== 'user' && endpoint.auth !== 'admin')
    throw new Error(`${endpoint.operationId} is not an authenticated endpoint`);
  routes.add(endpoint, (ctx) => {
    if (!ctx.principal) throw HttpError.unauthorized();
    return handler(ctx as StrictContext<E>);
  });
}

/** An endpoint anyone may call. */
export function addPublic<E extends EndpointDef>(
  routes: Routes,
  endpoint: E,
  handler: (ctx: PublicContext<E>) => Promise<Reply | undefined>,
): void {
  routes.add(endpoint, (ctx) => handler(ctx as PublicContext<E>));
}
