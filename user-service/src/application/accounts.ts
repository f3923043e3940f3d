import { randomUUID } from 'node:crypto';
import { type Role } from '@meetmatt/contracts';
import { sql } from 'kysely';
import { type DomainError, type Position, type Principal, domainError } from '@meetmatt/infra';
import { type RecentAuth } from '../domain/credentials';
import { emailReservationDecider } from '../domain/email-reservation-decide';
import { sessionDecider } from '../domain/session-decide';
import { type SessionRevokeReason } from '../domain/session';
import { emailKey, normaliseEmail, streams } from '../domain/streams';
import { type UserState } from '../domain/user';
import { userDecider } from '../domain/user-decide';
import { requestEmailVerification } from './account-recovery';
import { type UserDependencies } from './dependencies';
import { latest, loadStream, runCommand } from './user-commands';
import { recentAuthOf } from './credentials';
import { LoginThrottle } from './login-throttle';
import { HashingBusyError } from './passwords';
import { type RateLimit } from './rate-limits';
import { newRefreshToken, sha256 } from './secrets';
import { hasSessionFrom, liveSessionIds, usableSessions } from '../projections/session-queries';
import { type UserView } from '../projections/user-queries';

export type Result<T> = { ok: true; value: T } | { ok: false; error: DomainError };

export type { UserView };

export interface SignedIn {
  user: UserView;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface ClientInfo {
  userAgent: string | null;
  ip: string | null;
}

const NO_USER = '00000000-0000-0000-0000-000000000000';

export function userView(state: Extract<UserState, { status: 'registered' }>): UserView {
  return {
    id: state.userId,
    email: state.email,
    displayName: state.displayName,
    role: state.role,
    createdAt: state.registeredAt,
    billing: state.billing,
  };
}

/**
 * Sign up. Cheap refusals come before the slow hash (rate limits per client address and per
 * email, an address already taken), so a flood of sign-ups cannot buy scrypt time. Then the
 * email is reserved in its own stream (the event store's expected-revision check is what makes
 * it unique: of two registrations at once, one appends and the other finds it taken), then the
 * credentials row and the `user.registered` event, then a first session. A registration that
 * fails before its `user.registered` event leaves no credentials row and no reservation behind.
 */
export async function register(
  deps: Pick<
    UserDependencies,
    | 'catalog'
    | 'config'
    | 'db'
    | 'limits'
    | 'logger'
    | 'now'
    | 'passwords'
    | 'store'
    | 'tokens'
    | 'waitForProjections'
  >,
  input: { email: string; password: string; displayName?: string | undefined },
  client: ClientInfo,
): Promise<Result<SignedIn>> {
  const email = normaliseEmail(input.email);
  const limited = await overLimit(deps, [
    [
      { name: 'register:address', limit: deps.config.REGISTER_LIMIT_PER_ADDRESS },
      addressOf(client),
    ],
    [{ name: 'register:email', limit: deps.config.REGISTER_LIMIT_PER_EMAIL }, emailKey(email)],
  ]);
  if (limited) return { ok: false, error: tooManyRequests(limited, 'sign-ups') };
  const resumed = await resumeRegistration(deps, email, input, client);
  if (resumed) return resumed;
  const taken = await emailTaken(deps, email);
  if (taken) return { ok: false, error: taken };
  const passwordHash = await deps.passwords.hash(input.password);
  const userId = randomUUID();
  // Credentials before the reservation: a registration cut off after reserving the address
  // always leaves the password it was made with, so the client's retry can finish it.
  await deps.db
    .insertInto('credentials')
    .values({ user_id: userId, password_hash: passwordHash })
    .execute();
  let reserved: Result<Position | undefined> | undefined;
  let registered: Awaited<ReturnType<typeof registerUser>> | undefined;
  try {
    reserved = await reserveEmail(deps, email, userId);
    if (reserved.ok) registered = await registerUser(deps, userId, email, input.displayName);
  } finally {
    if (!registered?.ok) await undoRegistration(deps, email, userId);
  }
  if (!reserved.ok) return reserved;
  return signUpCompleted(deps, registered, reserved.value, client);
}

async function signUpCompleted(
  deps: Pick<
    UserDependencies,
    'catalog' | 'config' | 'db' | 'now' | 'store' | 'tokens' | 'waitForProjections'
  >,
  registered: Awaited<ReturnType<typeof registerUser>> | undefined,
  reservedAt: Position | undefined,
  client: ClientInfo,
): Promise<Result<SignedIn>> {
  if (!registered) throw new Error('registration left no user');
  if (!registered.ok) return registered;
  if (registered.state.status !== 'registered') throw new Error('registration left no user');
  // The verification mail: asked for once the user exists (a crash just before leaves the
  // address unverified; nothing else depends on it yet).
  const verification = await requestEmailVerification(deps, registered.state.userId);
  if (!verification.ok && verification.error.code !== 'email-already-verified')
    throw new Error(`verification not requested: ${verification.error.message}`);
  const session = await startSession(deps, registered.state.userId, registered.state.role, client);
  await deps.waitForProjections(latest(reservedAt, registered.position, session.position));
  return { ok: true, value: { user: userView(registered.state), ...session.tokens } };
}

/**
 * A registration whose process died after reserving the address but before recording its user
 * (a crash, a deploy) holds the address with no account behind it. The client's retry, with the
 * same password, finishes that registration instead of meeting "email taken" and then a failed
 * sign-in. A different password learns nothing new: the address is taken, as before.
 */
async function resumeRegistration(
  deps: Pick<
    UserDependencies,
    | 'catalog'
    | 'config'
    | 'db'
    | 'logger'
    | 'now'
    | 'passwords'
    | 'store'
    | 'tokens'
    | 'waitForProjections'
  >,
  email: string,
  input: { password: string; displayName?: string | undefined },
  client: ClientInfo,
): Promise<Result<SignedIn> | undefined> {
  const reservation = await loadStream(deps, emailReservationDecider, streams.email(email));
  if (reservation.state.status !== 'reserved') return undefined;
  const { userId } = reservation.state;
  const user = await loadStream(deps, userDecider, streams.user(userId));
  if (user.state.status !== 'none') return undefined;
  const row = await deps.db
    .selectFrom('credentials')
    .select('password_hash')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row || !(await deps.passwords.verify(input.password, row.password_hash))) return undefined;
  const registered = await registerUser(deps, userId, email, input.displayName);
  deps.logger.info('registration resumed after an interruption', { userId });
  return signUpCompleted(deps, registered, undefined, client);
}

async function registerUser(
  deps: Pick<UserDependencies, 'catalog' | 'now' | 'store'>,
  userId: string,
  email: string,
  displayName: string | undefined,
) {
  return runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: userDecider,
    streamId: streams.user(userId),
    userId,
    command: {
      type: 'Register',
      userId,
      email,
      displayName: displayName ?? defaultDisplayName(email),
      now: deps.now().toISOString(),
    },
  });
}

/** Gives back what a registration that never recorded its user took (best effort, logged). */
async function undoRegistration(
  deps: Pick<UserDependencies, 'catalog' | 'db' | 'logger' | 'now' | 'store'>,
  email: string,
  userId: string,
): Promise<void> {
  try {
    await deps.db.deleteFrom('credentials').where('user_id', '=', userId).execute();
    await releaseEmail(deps, email, userId);
  } catch (error) {
    // The reservation then lapses after its grace period (RESERVATION_GRACE_MS).
    deps.logger.warn('could not undo a failed registration', {
      userId,
      error: (error as Error).message,
    });
  }
}

/** The address as taken refuses a registration: decided on the reservation as it stands. */
async function emailTaken(
  deps: Pick<UserDependencies, 'catalog' | 'now' | 'store'>,
  email: string,
): Promise<DomainError | undefined> {
  const current = await loadStream(deps, emailReservationDecider, streams.email(email));
  if (current.state.status !== 'reserved') return undefined;
  const decided = emailReservationDecider.decide(
    {
      type: 'ReserveEmail',
      email,
      userId: randomUUID(),
      holderUsesIt: await holderUsesEmail(deps, current.state.userId, email),
      now: deps.now().toISOString(),
    },
    current.state,
  );
  return Array.isArray(decided) ? undefined : decided;
}

/**
 * Sign in. Whether or not the email has an account, the same queries run and one scrypt
 * verification is spent (against a dummy hash when there is none), and the same 401 comes back.
 * Limits come first: per client address, per account (except from an address this account has
 * signed in from before), and the guess throttle per account and address, which counts the
 * attempt before the password is hashed.
 */
export async function login(
  deps: Pick<
    UserDependencies,
    | 'catalog'
    | 'config'
    | 'db'
    | 'limits'
    | 'now'
    | 'passwords'
    | 'store'
    | 'throttle'
    | 'tokens'
    | 'waitForProjections'
  >,
  input: { email: string; password: string },
  client: ClientInfo,
): Promise<Result<SignedIn>> {
  const email = normaliseEmail(input.email);
  const key = emailKey(email);
  const now = deps.now();
  const address = addressOf(client);
  const addressLimited = await overLimit(deps, [
    [{ name: 'login:address', limit: deps.config.LOGIN_LIMIT_PER_ADDRESS }, address],
  ]);
  if (addressLimited) return { ok: false, error: tooManyRequests(addressLimited, 'sign-ins') };

  const reservation = await loadStream(deps, emailReservationDecider, streams.email(email));
  const candidate = reservation.state.status === 'reserved' ? reservation.state.userId : NO_USER;
  const [credentials, user, known] = await Promise.all([
    deps.db
      .selectFrom('credentials')
      .select('password_hash')
      .where('user_id', '=', candidate)
      .executeTakeFirst(),
    loadStream(deps, userDecider, streams.user(candidate)),
    knownAddress(deps, candidate, client.ip),
  ]);
  if (!known) {
    const accountLimited = await overLimit(deps, [
      [{ name: 'login:account', limit: deps.config.LOGIN_LIMIT_PER_ACCOUNT }, key],
    ]);
    if (accountLimited) return { ok: false, error: tooManyAttempts(accountLimited) };
  }
  const throttleKey = LoginThrottle.key(key, client.ip);
  const attempt = await deps.throttle.reserve(throttleKey, now);
  if (!attempt.ok) return { ok: false, error: tooManyAttempts(attempt.retryAfterSeconds) };

  const account =
    credentials && user.state.status === 'registered' && user.state.email === email
      ? { state: user.state, hash: credentials.password_hash }
      : undefined;
  let valid: boolean;
  try {
    valid = account
      ? await deps.passwords.verify(input.password, account.hash)
      : await deps.passwords.verifyDummy(input.password);
  } catch (error) {
    // Not evaluated (hashing at capacity): it was no guess.
    await deps.throttle.release(throttleKey, 'not-evaluated').catch(() => undefined);
    throw error;
  }
  if (!valid || !account) return { ok: false, error: invalidCredentials() };
  await deps.throttle.release(throttleKey, 'success');
  await upgradeHash(deps, account.state.userId, account.hash, input.password, now);
  const session = await startSession(deps, account.state.userId, account.state.role, client);
  await deps.waitForProjections(session.position);
  return { ok: true, value: { user: userView(account.state), ...session.tokens } };
}

async function upgradeHash(
  deps: Pick<UserDependencies, 'db' | 'passwords'>,
  userId: string,
  hash: string,
  password: string,
  now: Date,
): Promise<void> {
  if (!deps.passwords.needsRehash(hash)) return;
  let rehashed: string;
  try {
    rehashed = await deps.passwords.hash(password);
  } catch (error) {
    // The next sign-in upgrades it; this one need not wait for a hashing slot.
    if (error instanceof HashingBusyError) return;
    throw error;
  }
  await deps.db
    .updateTable('credentials')
    .set({ password_hash: rehashed, updated_at: now })
    .where('user_id', '=', userId)
    .execute();
}

/** Whether this account has opened a session from this address before (its read model). */
async function knownAddress(
  deps: Pick<UserDependencies, 'db'>,
  userId: string,
  ip: string | null,
): Promise<boolean> {
  // Asked for unknown emails too (NO_USER has no sessions): the same queries run either way.
  if (!ip) return false;
  return hasSessionFrom(deps.db, userId, ip);
}

/**
 * The user typed their password again in this session (for credential changes, which need a
 * recent check). Throttled like a sign-in: a stolen session token cannot guess the password.
 */
export async function confirmPassword(
  deps: Pick<
    UserDependencies,
    'catalog' | 'config' | 'db' | 'now' | 'passwords' | 'store' | 'throttle'
  >,
  principal: Principal,
  password: string,
  client: ClientInfo,
): Promise<Result<Position | undefined>> {
  const checked = await checkPassword(deps, principal, password, client);
  if (!checked.ok) return checked;
  const confirmed = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: sessionDecider,
    streamId: streams.session(checked.value.sessionId),
    userId: principal.userId,
    command: { type: 'ConfirmPassword', userId: principal.userId, now: deps.now().toISOString() },
  });
  return confirmed.ok ? { ok: true, value: confirmed.position } : confirmed;
}

/**
 * A new password, from a session that gives the current one (an API key never can). The other
 * sessions of the user end: whoever may have learnt the old password is signed out.
 */
export async function changePassword(
  deps: Pick<
    UserDependencies,
    | 'catalog'
    | 'config'
    | 'db'
    | 'now'
    | 'passwords'
    | 'revocations'
    | 'store'
    | 'throttle'
    | 'waitForProjections'
  >,
  principal: Principal,
  input: { currentPassword: string; newPassword: string },
  client: ClientInfo,
): Promise<Result<void>> {
  const checked = await checkPassword(deps, principal, input.currentPassword, client);
  if (!checked.ok) return checked;
  const auth: RecentAuth = {
    credential: checked.value.credential,
    maxAgeMs: checked.value.maxAgeMs,
  };
  const user = await loadStream(deps, userDecider, streams.user(principal.userId));
  const command = { type: 'ChangePassword' as const, auth, now: deps.now().toISOString() };
  const refused = userDecider.decide(command, user.state);
  if (!Array.isArray(refused)) return { ok: false, error: refused };
  const passwordHash = await deps.passwords.hash(input.newPassword);
  await deps.db
    .updateTable('credentials')
    .set({ password_hash: passwordHash, updated_at: deps.now() })
    .where('user_id', '=', principal.userId)
    .execute();
  const changed = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: userDecider,
    streamId: streams.user(principal.userId),
    userId: principal.userId,
    command,
  });
  if (!changed.ok) return changed;
  const positions: (Position | undefined)[] = [changed.position];
  for (const id of await liveSessionIds(deps.db, principal.userId)) {
    if (id === checked.value.sessionId) continue;
    const ended = await revokeSession(deps, principal.userId, id, 'logout-all', auth);
    if (ended.ok) positions.push(ended.value);
  }
  await deps.waitForProjections(latest(...positions));
  return { ok: true, value: undefined };
}

/**
 * The caller's own password, checked now (throttled, counted before hashing). Only a session
 * may do this: an API key is refused before any hashing.
 */
export async function checkPassword(
  deps: Pick<
    UserDependencies,
    'catalog' | 'config' | 'db' | 'now' | 'passwords' | 'store' | 'throttle'
  >,
  principal: Principal,
  password: string,
  client: ClientInfo,
): Promise<Result<RecentAuth & { sessionId: string }>> {
  const auth = await recentAuthOf(deps, principal);
  if (auth.credential.kind !== 'session')
    return {
      ok: false,
      error: domainError('session-required', 'Only a signed-in session can confirm a password'),
    };
  const user = await loadStream(deps, userDecider, streams.user(principal.userId));
  if (user.state.status !== 'registered')
    return { ok: false, error: domainError('user-not-found', 'No such user') };
  const now = deps.now();
  const throttleKey = LoginThrottle.key(emailKey(user.state.email), client.ip);
  const attempt = await deps.throttle.reserve(throttleKey, now);
  if (!attempt.ok) return { ok: false, error: tooManyAttempts(attempt.retryAfterSeconds) };
  const row = await deps.db
    .selectFrom('credentials')
    .select('password_hash')
    .where('user_id', '=', principal.userId)
    .executeTakeFirst();
  let valid: boolean;
  try {
    valid = row ? await deps.passwords.verify(password, row.password_hash) : false;
  } catch (error) {
    await deps.throttle.release(throttleKey, 'not-evaluated').catch(() => undefined);
    throw error;
  }
  if (!valid) return { ok: false, error: wrongPassword() };
  await deps.throttle.release(throttleKey, 'success');
  return {
    ok: true,
    value: {
      credential: { ...auth.credential, passwordCheckedAt: now.toISOString() },
      maxAgeMs: auth.maxAgeMs,
      sessionId: auth.credential.sessionId,
    },
  };
}

/**
 * Rotates a refresh token: the presented one is marked used and a new one issued in one
 * statement, so of two refreshes with one token only one succeeds. A token that was already
 * used means it leaked (or the client misbehaves): the whole session ends.
 *
 * Nothing waits for a second pool connection while holding a lock: the session and the user
 * are read before, and the rotation is a single statement whose row lock lasts only as long as
 * that statement (many refreshes of one token at once queue on the row, not on the pool).
 */
export async function refresh(
  deps: Pick<
    UserDependencies,
    'catalog' | 'config' | 'db' | 'logger' | 'now' | 'revocations' | 'store' | 'tokens' | 'usage'
  >,
  refreshToken: string,
): Promise<Result<SignedIn>> {
  const tokenHash = sha256(refreshToken);
  const now = deps.now();
  const row = await deps.db
    .selectFrom('refresh_tokens')
    .select(['session_id', 'user_id', 'used_at', 'expires_at'])
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (!row) return { ok: false, error: invalidRefreshToken() };
  if (row.used_at) return refreshTokenReused(deps, row.user_id, row.session_id);
  if (row.expires_at.getTime() <= now.getTime()) return { ok: false, error: invalidRefreshToken() };
  const [session, user] = await Promise.all([
    loadStream(deps, sessionDecider, streams.session(row.session_id)),
    loadStream(deps, userDecider, streams.user(row.user_id)),
  ]);
  if (session.state.status !== 'active' || user.state.status !== 'registered')
    return { ok: false, error: invalidRefreshToken() };
  const next = newRefreshToken();
  const { rows } = await sql<{ session_id: string }>`
    WITH used AS (
      UPDATE refresh_tokens SET used_at = ${now}
      WHERE token_hash = ${tokenHash} AND used_at IS NULL AND expires_at > ${now}
      RETURNING session_id, user_id)
    INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at, used_at)
    SELECT ${sha256(next)}, session_id, user_id, ${refreshExpiry(deps, now)}, NULL FROM used
    RETURNING session_id`.execute(deps.db);
  if (rows.length === 0) {
    // Another refresh of this token got there first (or the session was just ended).
    const after = await deps.db
      .selectFrom('refresh_tokens')
      .select('used_at')
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (after?.used_at) return refreshTokenReused(deps, row.user_id, row.session_id);
    return { ok: false, error: invalidRefreshToken() };
  }
  deps.usage.sessionUsed(row.session_id, now);
  const accessToken = await deps.tokens.sign(
    { userId: user.state.userId, role: user.state.role, sessionId: row.session_id },
    deps.config.ACCESS_TOKEN_TTL_SECONDS,
  );
  return {
    ok: true,
    value: {
      user: userView(user.state),
      accessToken,
      refreshToken: next,
      expiresIn: deps.config.ACCESS_TOKEN_TTL_SECONDS,
    },
  };
}

async function refreshTokenReused(
  deps: Pick<UserDependencies, 'catalog' | 'db' | 'logger' | 'now' | 'revocations' | 'store'>,
  userId: string,
  sessionId: string,
): Promise<Result<never>> {
  await revokeSession(deps, userId, sessionId, 'refresh-token-reuse', SYSTEM);
  deps.logger.warn('refresh token reused: session revoked', { userId, sessionId });
  return {
    ok: false,
    error: domainError(
      'refresh-token-reused',
      'This refresh token was already used: the session has been ended, sign in again',
    ),
  };
}

const SYSTEM: RecentAuth = { credential: { kind: 'system' }, maxAgeMs: 0 };

/**
 * Ends a session: its access tokens are refused at once here (and by the other instances as
 * soon as they read the event), its refresh tokens are deleted.
 */
export async function revokeSession(
  deps: Pick<UserDependencies, 'catalog' | 'db' | 'now' | 'revocations' | 'store'>,
  userId: string,
  sessionId: string,
  reason: SessionRevokeReason,
  auth: RecentAuth,
): Promise<Result<Position | undefined>> {
  const now = deps.now();
  const revoked = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: sessionDecider,
    streamId: streams.session(sessionId),
    userId,
    command: { type: 'RevokeSession', userId, reason, auth, now: now.toISOString() },
  });
  if (!revoked.ok) return revoked;
  if (revoked.state.status === 'revoked') deps.revocations.add(sessionId, revoked.state.revokedAt);
  await deps.db.deleteFrom('refresh_tokens').where('session_id', '=', sessionId).execute();
  return { ok: true, value: revoked.position };
}

/**
 * POST /auth/logout: this session, or with `all` every live session of the user (which needs
 * a recent password). The current session is ended first: when it is refused, nothing is.
 */
export async function logout(
  deps: Pick<
    UserDependencies,
    'catalog' | 'config' | 'db' | 'now' | 'revocations' | 'store' | 'waitForProjections'
  >,
  principal: Principal,
  all: boolean,
): Promise<Result<void>> {
  const { userId, sessionId: currentSessionId } = principal;
  const auth = await recentAuthOf(deps, principal);
  const positions: (Position | undefined)[] = [];
  const current = await revokeSession(
    deps,
    userId,
    currentSessionId,
    all ? 'logout-all' : 'logout',
    auth,
  );
  if (!current.ok) return current;
  positions.push(current.value);
  if (all) {
    for (const id of await liveSessionIds(deps.db, userId)) {
      if (id === currentSessionId) continue;
      const result = await revokeSession(deps, userId, id, 'logout-all', auth);
      if (result.ok) positions.push(result.value);
    }
  }
  await deps.waitForProjections(latest(...positions));
  return { ok: true, value: undefined };
}

export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

/** The user's live sessions: not revoked, with a refresh token that can still be used. */
export async function listSessions(
  deps: Pick<UserDependencies, 'db' | 'now' | 'revocations' | 'usage'>,
  userId: string,
  currentSessionId: string,
): Promise<SessionView[]> {
  const now = deps.now();
  const rows = await usableSessions(deps.db, userId, now);
  return rows
    .filter((row) => !deps.revocations.has(row.id))
    .map((row) => {
      const lastUsed = Math.max(
        row.created_at.getTime(),
        row.last_used_at?.getTime() ?? 0,
        deps.usage.sessionLastUsed(row.id)?.getTime() ?? 0,
      );
      return {
        id: row.id,
        createdAt: row.created_at.toISOString(),
        lastUsedAt: new Date(lastUsed).toISOString(),
        userAgent: row.user_agent,
        ip: row.ip,
        current: row.id === currentSessionId,
      };
    });
}

/**
 * Claims an email for a user in its reservation stream. A holder that does not use the address
 * (a registration that died between reserving and registering) loses it after a grace period.
 */
export async function reserveEmail(
  deps: Pick<UserDependencies, 'catalog' | 'now' | 'store'>,
  email: string,
  userId: string,
): Promise<Result<Position | undefined>> {
  const reserved = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: emailReservationDecider,
    streamId: streams.email(email),
    userId,
    command: async (state) => {
      const holderUsesIt =
        state.status === 'reserved' && state.userId !== userId
          ? await holderUsesEmail(deps, state.userId, email)
          : false;
      return {
        type: 'ReserveEmail' as const,
        email,
        userId,
        holderUsesIt,
        now: deps.now().toISOString(),
      };
    },
  });
  return reserved.ok ? { ok: true, value: reserved.position } : reserved;
}

/**
 * Whether a reservation's holder has had this address on their profile, now or before: an
 * address its user moved away from and kept (an admin's) is not a registration that died.
 */
async function holderUsesEmail(
  deps: Pick<UserDependencies, 'catalog' | 'store'>,
  holderId: string,
  email: string,
): Promise<boolean> {
  const holder = await loadStream(deps, userDecider, streams.user(holderId));
  if (holder.state.status !== 'registered') return false;
  return holder.events.some(
    (event) =>
      (event.type === 'user.registered' || event.type === 'user.profile-updated') &&
      event.data.email === email,
  );
}

export async function releaseEmail(
  deps: Pick<UserDependencies, 'catalog' | 'now' | 'store'>,
  email: string,
  userId: string,
): Promise<Position | undefined> {
  const released = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: emailReservationDecider,
    streamId: streams.email(email),
    userId,
    command: { type: 'ReleaseEmail', email, userId, now: deps.now().toISOString() },
  });
  return released.ok ? released.position : undefined;
}

async function startSession(
  deps: Pick<UserDependencies, 'catalog' | 'config' | 'db' | 'now' | 'store' | 'tokens'>,
  userId: string,
  role: Role,
  client: ClientInfo,
): Promise<{ tokens: Omit<SignedIn, 'user'>; position: Position | undefined }> {
  const sessionId = randomUUID();
  const now = deps.now();
  const refreshToken = newRefreshToken();
  await deps.db
    .insertInto('refresh_tokens')
    .values({
      token_hash: sha256(refreshToken),
      session_id: sessionId,
      user_id: userId,
      expires_at: refreshExpiry(deps, now),
      used_at: null,
    })
    .execute();
  const started = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: sessionDecider,
    streamId: streams.session(sessionId),
    userId,
    command: {
      type: 'StartSession',
      sessionId,
      userId,
      userAgent: client.userAgent?.slice(0, 256) ?? null,
      ip: client.ip,
      now: now.toISOString(),
    },
  });
  if (!started.ok) throw new Error(`session ${sessionId}: ${started.error.message}`);
  const accessToken = await deps.tokens.sign(
    { userId, role, sessionId },
    deps.config.ACCESS_TOKEN_TTL_SECONDS,
  );
  return {
    tokens: { accessToken, refreshToken, expiresIn: deps.config.ACCESS_TOKEN_TTL_SECONDS },
    position: started.position,
  };
}

function refreshExpiry(deps: Pick<UserDependencies, 'config'>, now: Date): Date {
  return new Date(now.getTime() + deps.config.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
}

function defaultDisplayName(email: string): string {
  return (email.split('@')[0] ?? email).slice(0, 80) || 'user';
}

export function invalidCredentials(): DomainError {
  return domainError('invalid-credentials', 'Wrong email or password');
}

function invalidRefreshToken(): DomainError {
  return domainError('invalid-refresh-token', 'This refresh token is not valid');
}

/** A client address for the limits; requests without one share a bucket. */
function addressOf(client: ClientInfo): string {
  return client.ip ?? 'unknown';
}

/** Counts a hit on each limit in turn; the wait of the first one exceeded, or 0. */
async function overLimit(
  deps: Pick<UserDependencies, 'limits' | 'now'>,
  rules: [RateLimit, string][],
): Promise<number> {
  const now = deps.now();
  for (const [rule, subject] of rules) {
    const wait = await deps.limits.hit(rule, subject, now);
    if (wait > 0) return wait;
  }
  return 0;
}

export function wrongPassword(): DomainError {
  return domainError('wrong-password', 'The password is not right');
}

export function tooManyRequests(
  retryAfterSeconds: number,
  what: string,
): DomainError & { retryAfterSeconds: number } {
  return {
    ...domainError(
      'too-many-attempts',
      `Too many ${what} from here: try again in ${retryAfterSeconds} s`,
    ),
    retryAfterSeconds,
  };
}

export function tooManyAttempts(retryAfterSeconds: number): DomainError & {
  retryAfterSeconds: number;
} {
  return {
    ...domainError(
      'too-many-attempts',
      `Too many failed sign-ins for this email: try again in ${retryAfterSeconds} s`,
    ),
    retryAfterSeconds,
  };
}
