import { type BillingDetails, type Preferences } from '@meetmatt/contracts';
import { type Position, type Principal, domainError } from '@meetmatt/infra';
import { type RecentAuth } from '../domain/credentials';
import { normaliseEmail, streams } from '../domain/streams';
import { userDecider } from '../domain/user-decide';
import {
  type ClientInfo,
  type Result,
  checkPassword,
  releaseEmail,
  reserveEmail,
  userView,
} from './accounts';
import { latest, loadStream, runCommand } from './user-commands';
import { type UserDependencies } from './dependencies';
import { recentAuthOf } from './credentials';
import { type UserView, type Versioned } from '../projections/user-queries';

/**
 * Changes the display name, email and/or billing details, on the revision the client saw (If-Match). A new
 * email needs a recent password: the one in the body (checked here), or a session that
 * confirmed it lately; the decider is asked before anything is written. The new email is then
 * reserved (409 when it belongs to someone else), the profile changes (412 if it moved
 * meanwhile, and the new reservation is given back), and the old email is released for others
 * to use, except an admin's, which stays reserved to them: an operator's old address must not
 * become anyone's account.
 */
export async function updateUser(
  deps: Pick<
    UserDependencies,
    'catalog' | 'config' | 'db' | 'now' | 'passwords' | 'store' | 'throttle' | 'waitForProjections'
  >,
  principal: Principal,
  userId: string,
  ifMatch: number,
  change: {
    displayName?: string | undefined;
    email?: string | undefined;
    currentPassword?: string | undefined;
    billing?: BillingDetails | null | undefined;
  },
  client: ClientInfo,
): Promise<Result<Versioned<UserView>>> {
  const current = await loadStream(deps, userDecider, streams.user(userId));
  if (current.state.status !== 'registered')
    return { ok: false, error: domainError('user-not-found', 'No such user') };
  if (current.revision !== ifMatch) {
    // The client read a view behind the stream (another instance's projection, not yet caught up):
    // answer once the views show the current revision, so the read it makes next has the ETag to use.
    await deps.waitForProjections(current.position);
    return {
      ok: false,
      error: domainError(
        'stale-revision',
        `The profile has changed (now at revision ${current.revision})`,
      ),
    };
  }
  const oldEmail = current.state.email;
  const newEmail =
    change.email !== undefined && normaliseEmail(change.email) !== oldEmail
      ? normaliseEmail(change.email)
      : undefined;
  let auth: RecentAuth;
  if (newEmail && change.currentPassword !== undefined) {
    const checked = await checkPassword(deps, principal, change.currentPassword, client);
    if (!checked.ok) return checked;
    auth = checked.value;
  } else auth = await recentAuthOf(deps, principal);
  const command = {
    type: 'UpdateProfile' as const,
    ...(change.displayName !== undefined ? { displayName: change.displayName } : {}),
    ...(newEmail ? { email: newEmail } : {}),
    ...(change.billing !== undefined ? { billing: change.billing } : {}),
    auth,
    now: deps.now().toISOString(),
  };
  const refused = userDecider.decide(command, current.state);
  if (!Array.isArray(refused)) return { ok: false, error: refused };
  let reservedAt: Position | undefined;
  if (newEmail) {
    const reserved = await reserveEmail(deps, newEmail, userId);
    if (!reserved.ok) return reserved;
    reservedAt = reserved.value;
  }
  const updated = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: userDecider,
    streamId: streams.user(userId),
    userId,
    expectedRevision: ifMatch,
    command,
  });
  if (!updated.ok) {
    if (newEmail) await releaseEmail(deps, newEmail, userId);
    await deps.waitForProjections(updated.position);
    return updated;
  }
  const keepOld = current.state.role === 'admin';
  const releasedAt = newEmail && !keepOld ? await releaseEmail(deps, oldEmail, userId) : undefined;
  await deps.waitForProjections(latest(reservedAt, updated.position, releasedAt));
  if (updated.state.status !== 'registered') throw new Error('profile update left no user');
  return { ok: true, value: { value: userView(updated.state), revision: updated.revision } };
}

/** Replaces the preferences; `ifMatch` when the client sent one. */
export async function updatePreferences(
  deps: Pick<UserDependencies, 'catalog' | 'now' | 'store' | 'waitForProjections'>,
  userId: string,
  preferences: Preferences,
  ifMatch: number | undefined,
): Promise<Result<Versioned<Preferences>>> {
  const normalised: Preferences = {
    ...preferences,
    notificationChannels: [...new Set(preferences.notificationChannels)],
  };
  const updated = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: userDecider,
    streamId: streams.user(userId),
    userId,
    ...(ifMatch !== undefined ? { expectedRevision: ifMatch } : {}),
    command: { type: 'UpdatePreferences', preferences: normalised, now: deps.now().toISOString() },
  });
  // A refusal too waits for the views: after a 412 the client's next read shows the current ETag.
  await deps.waitForProjections(updated.position);
  if (!updated.ok) return updated;
  if (updated.state.status !== 'registered') throw new Error('preferences update left no user');
  return { ok: true, value: { value: updated.state.preferences, revision: updated.revision } };
}
