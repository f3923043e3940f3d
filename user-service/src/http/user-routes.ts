import { userEndpoints } from '@meetmatt/contracts';
import { HttpError, type Routes } from '@meetmatt/infra';
import { createApiKey, listApiKeys, revokeApiKey } from '../application/api-keys';
import { type UserDependencies } from '../application/dependencies';
import { markNotificationRead } from '../application/notifications';
import { listNotifications } from '../projections/notification-queries';
import { updatePreferences, updateUser } from '../application/profile';
import { getPreferences, getUser } from '../projections/user-queries';
import { getUsage, usagePeriod } from '../application/usage';
import { clientOf } from './auth-routes';
import {
  etag,
  hashing,
  mayChange,
  mayRead,
  orThrow,
  parseIfMatch,
  preconditionRequired,
} from './problems';

export function userRoutes(
  routes: Routes,
  deps: Pick<
    UserDependencies,
    | 'apiKeys'
    | 'catalog'
    | 'config'
    | 'db'
    | 'now'
    | 'passwords'
    | 'revocations'
    | 'store'
    | 'throttle'
    | 'usage'
    | 'waitForProjections'
  >,
): void {
  routes.add(userEndpoints.getUser, async ({ params, principal }) => {
    mayRead(principal, params.id);
    const user = await getUser(deps.db, params.id);
    if (!user) throw HttpError.notFound('No such user');
    return { status: 200, body: user.value, headers: { ETag: etag(user.revision) } };
  });

  routes.add(userEndpoints.updateUser, async ({ params, principal, body, req }) => {
    mayChange(principal, params.id);
    const ifMatch = parseIfMatch(req.get('if-match'));
    if (ifMatch === null) throw preconditionRequired();
    const expected = ifMatch ?? (await getUser(deps.db, params.id))?.revision;
    if (expected === undefined) throw HttpError.notFound('No such user');
    const updated = orThrow(
      await hashing(() => updateUser(deps, principal, params.id, expected, body, clientOf(req))),
    );
    return { status: 200, body: updated.value, headers: { ETag: etag(updated.revision) } };
  });

  routes.add(userEndpoints.getPreferences, async ({ params, principal }) => {
    mayRead(principal, params.id);
    const preferences = await getPreferences(deps.db, params.id);
    if (!preferences) throw HttpError.notFound('No such user');
    return {
      status: 200,
      body: preferences.value,
      headers: { ETag: etag(preferences.revision) },
    };
  });

  routes.add(userEndpoints.updatePreferences, async ({ params, principal, body, req }) => {
    mayChange(principal, params.id);
    const ifMatch = parseIfMatch(req.get('if-match')) ?? undefined;
    const updated = orThrow(await updatePreferences(deps, params.id, body, ifMatch));
    return { status: 200, body: updated.value, headers: { ETag: etag(updated.revision) } };
  });

  routes.add(userEndpoints.getUsage, async ({ params, principal, query }) => {
    mayRead(principal, params.id);
    if (!(await getUser(deps.db, params.id))) throw HttpError.notFound('No such user');
    const period = usagePeriod(deps.now(), query.from, query.to);
    if (period.from > period.to)
      throw HttpError.badRequest('Invalid request: query from: must not be after to', [
        { field: 'from', in: 'query', message: 'must not be after to' },
      ]);
    return { status: 200, body: await getUsage(deps, params.id, period) };
  });

  routes.add(userEndpoints.listApiKeys, async ({ params, principal }) => {
    mayRead(principal, params.id);
    return { status: 200, body: { keys: await listApiKeys(deps, params.id) } };
  });

  routes.add(userEndpoints.createApiKey, async ({ params, principal, body }) => {
    mayChange(principal, params.id);
    return {
      status: 201,
      body: orThrow(await createApiKey(deps, principal, params.id, body)),
      headers: { 'Cache-Control': 'no-store' },
    };
  });

  routes.add(userEndpoints.revokeApiKey, async ({ params, principal }) => {
    mayChange(principal, params.id);
    orThrow(await revokeApiKey(deps, params.id, params.keyId));
    return { status: 204 };
  });

  routes.add(userEndpoints.listNotifications, async ({ params, principal, query }) => {
    mayRead(principal, params.id);
    return {
      status: 200,
      body: await listNotifications(deps.db, params.id, {
        unreadOnly: query.unread === 'true',
        limit: query.limit,
      }),
    };
  });

  routes.add(userEndpoints.markNotificationRead, async ({ params, principal }) => {
    mayChange(principal, params.id);
    orThrow(await markNotificationRead(deps, params.id, params.nid));
    return { status: 204 };
  });
}
