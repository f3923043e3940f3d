import { type Request } from 'express';
import { userEndpoints } from '@meetmatt/contracts';
import { GATEWAY_SECRET_HEADER, GatewaySecret, HttpError, type Routes } from '@meetmatt/infra';
import {
  type ClientInfo,
  changePassword,
  confirmPassword,
  listSessions,
  login,
  logout,
  refresh,
  register,
  revokeSession,
} from '../application/accounts';
import {
  confirmPasswordReset,
  requestPasswordReset,
  verifyEmail,
} from '../application/account-recovery';
import { type UserDependencies } from '../application/dependencies';
import { recentAuthOf } from '../application/credentials';
import { type KeyRing } from '../application/signing-keys';
import { type VerifyCaller } from '../application/verify-caller';
import { hashing, orThrow } from './problems';

export function clientOf(req: Request): ClientInfo {
  return { userAgent: req.get('user-agent') ?? null, ip: req.ip ?? null };
}

const noStore = { 'Cache-Control': 'no-store' };

export function authRoutes(
  routes: Routes,
  deps: Pick<
    UserDependencies,
    | 'catalog'
    | 'config'
    | 'db'
    | 'limits'
    | 'logger'
    | 'now'
    | 'passwords'
    | 'revocations'
    | 'store'
    | 'throttle'
    | 'tokens'
    | 'usage'
    | 'waitForProjections'
  > & { keys: KeyRing; verifyCaller: VerifyCaller },
): void {
  routes.add(userEndpoints.register, async ({ body, req }) => ({
    status: 201,
    body: orThrow(await hashing(() => register(deps, body, clientOf(req)))),
    headers: noStore,
  }));

  routes.add(userEndpoints.login, async ({ body, req }) => ({
    status: 200,
    body: orThrow(await hashing(() => login(deps, body, clientOf(req)))),
    headers: noStore,
  }));

  routes.add(userEndpoints.refresh, async ({ body }) => ({
    status: 200,
    body: orThrow(await refresh(deps, body.refreshToken)),
    headers: noStore,
  }));

  routes.add(userEndpoints.logout, async ({ body, principal }) => {
    orThrow(await logout(deps, principal, body.all));
    return { status: 204 };
  });

  routes.add(userEndpoints.changePassword, async ({ body, principal, req }) => {
    orThrow(await hashing(() => changePassword(deps, principal, body, clientOf(req))));
    return { status: 204, headers: noStore };
  });

  routes.add(userEndpoints.confirmPassword, async ({ body, principal, req }) => {
    const position = orThrow(
      await hashing(() => confirmPassword(deps, principal, body.password, clientOf(req))),
    );
    await deps.waitForProjections(position);
    return { status: 204, headers: noStore };
  });

  routes.add(userEndpoints.verifyEmail, async ({ body }) => {
    orThrow(await verifyEmail(deps, body.token));
    return { status: 204, headers: noStore };
  });

  routes.add(userEndpoints.requestPasswordReset, async ({ body, req }) => {
    orThrow(await requestPasswordReset(deps, body.email, clientOf(req)));
    return { status: 202, headers: noStore };
  });

  routes.add(userEndpoints.confirmPasswordReset, async ({ body }) => {
    orThrow(await hashing(() => confirmPasswordReset(deps, body)));
    return { status: 204, headers: noStore };
  });

  routes.add(userEndpoints.listSessions, async ({ principal }) => ({
    status: 200,
    body: { sessions: await listSessions(deps, principal.userId, principal.sessionId) },
  }));

  routes.add(userEndpoints.revokeSession, async ({ params, principal }) => {
    const auth = await recentAuthOf(deps, principal);
    const position = orThrow(
      await revokeSession(deps, principal.userId, params.id, 'revoked', auth),
    );
    await deps.waitForProjections(position);
    return { status: 204 };
  });

  // The token exchange is the gateway's: to anyone else /auth/verify does not exist, so a client
  // that reaches the service directly mints no token from an API key.
  const gateway = new GatewaySecret(
    deps.config.GATEWAY_SHARED_SECRET,
    deps.config.GATEWAY_SHARED_SECRET_PREVIOUS,
  );
  if (!gateway.configured)
    deps.logger.warn('GATEWAY_SHARED_SECRET is not set: /auth/verify answers nobody');
  routes.add(userEndpoints.verify, async ({ req }) => {
    if (!gateway.matches(req.headers[GATEWAY_SECRET_HEADER]))
      throw HttpError.notFound(`No route for ${req.method} ${req.path}`);
    const caller = await deps.verifyCaller.verify(req);
    if (!caller.ok && caller.reason === 'unavailable')
      throw new HttpError(503, 'unavailable', 'Cannot check this credential right now', {
        headers: { 'Retry-After': '5' },
      });
    if (!caller.ok) throw HttpError.unauthorized();
    return {
      status: 200,
      headers: {
        'X-User-Id': caller.userId,
        'X-User-Role': caller.role,
        ...(caller.accessToken ? { 'X-Access-Token': caller.accessToken } : {}),
        ...noStore,
      },
    };
  });

  routes.add(userEndpoints.jwks, async () => ({
    status: 200,
    body: deps.keys.jwks,
    headers: { 'Cache-Control': 'public, max-age=300' },
  }));
}
