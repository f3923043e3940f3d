import { randomUUID } from 'node:crypto';
import { type Role } from '@meetmatt/contracts';
import { type DomainError, type Position, domainError } from '@meetmatt/infra';
import { emailReservationDecider } from '../domain/email-reservation-decide';
import { sessionDecider } from '../domain/session-decide';
import { type SessionRevokeReason } from '../domain/session';
import { emailKey, normaliseEmail, streams } from '../domain/streams';
import { type UserState } from '../domain/user';
import { userDecider } from '../domain/user-decide';
import { type UserContext } from './context';
import { latest, loadStream, runCommand } from './commands';
import { newRefreshToken, sha256 } from './secrets';

export type Result<T> = { ok: true; value: T } | { ok: false; error: DomainError };

export interface UserView {
  id: string;
  email: string;
  displayName: string;
  role: Role;
  createdAt: string;
}

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
  };
}

/**
 * Sign up: the password is hashed first (slow, before anything is written), then the email is
 * reserved in its own stream (the event store's expected-revision check is what makes it
 * unique: of two registrations at once, one appends and the other finds it taken), then the
 * credentials row and the `user.registered` event, then a first session.
 */
export async function register(
  ctx: UserContext,
  input: { email: string; password: string; displayName?: string | undefined },
  client: ClientInfo,
): Promise<Result<SignedIn>> {
  const email = normaliseEmail(input.email);
  const passwordHash = await ctx.passwords.hash(input.password);
  const userId = randomUUID();
  const reserved = await reserveEmail(ctx, email, userId);
  if (!reserved.ok) return reserved;
  await ctx.db
    .insertInto('credentials')
    .values({ user_id: userId, password_hash: passwordHash })
    .execute();
  const role: Role = ctx.config.ADMIN_EMAILS.includes(email) ? 'admin' : 'user';
  const registered = await runCommand({
    store: ctx.store,
    catalog: ctx.catalog,
    decider: userDecider,
    streamId: streams.user(userId),
    userId,
    command: {
      type: 'Register',
      userId,
      email,
      displayName: input.displayName ?? defaultDisplayName(email),
      role,
      now: ctx.now().toISOString(),
    },
  });
  if (!registered.ok) return registered;
  if (registered.state.status !== 'registered') throw new Error('registration left no user');
  const session = await startSession(ctx, registered.state.userId, role, client);
  await ctx.waitForProjections(latest(reserved.value, registered.position, session.position));
  return { ok: true, value: { user: userView(registered.state), ...session.tokens } };
}

/**
 * Sign in. Whether or not the email has an account, the same queries run and one scrypt
 * verification is spent (against a dummy hash when there is none), and the same 401 comes back.
 */
export async function login(
  ctx: UserContext,
  input: { email: string; password: string },
  client: ClientInfo,
): Promise<Result<SignedIn>> {
  const email = normaliseEmail(input.email);
  const key = emailKey(email);
  const now = ctx.now();
  const wait = await ctx.throttle.blockedFor(key, now);
  if (wait > 0) return { ok: false, error: tooManyAttempts(wait) };

  const reservation = await loadStream(ctx, emailReservationDecider, streams.email(email));
  const candidate = reservation.state.status === 'reserved' ? reservation.state.userId : NO_USER;
  const [credentials, user] = await Promise.all([
    ctx.db
      .selectFrom('credentials')
      .select('password_hash')
      .where('user_id', '=', candidate)
      .executeTakeFirst(),
    loadStream(ctx, userDecider, streams.user(candidate)),
  ]);
  const account =
    credentials && user.state.status === 'registered' && user.state.email === email
      ? { state: user.state, hash: credentials.password_hash }
      : undefined;
  const valid = account
    ? await ctx.passwords.verify(input.password, account.hash)
    : await ctx.passwords.verifyDummy(input.password);
  if (!valid || !account) {
    await ctx.throttle.recordFailure(key, now);
    return { ok: false, error: invalidCredentials() };
  }
  await ctx.throttle.reset(key);
  if (ctx.passwords.needsRehash(account.hash)) {
    const rehashed = await ctx.passwords.hash(input.password);
    await ctx.db
      .updateTable('credentials')
      .set({ password_hash: rehashed, updated_at: now })
      .where('user_id', '=', account.state.userId)
      .execute();
  }
  const session = await startSession(ctx, account.state.userId, account.state.role, client);
  await ctx.waitForProjections(session.position);
  return { ok: true, value: { user: userView(account.state), ...session.tokens } };
}

/**
 * Rotates a refresh token: the presented one is marked used and a new one issued, in one
 * transaction that locks its row, so of two refreshes with one token only one succeeds. A token
 * that was already used means it leaked (or the client misbehaves): the whole session ends.
 */
export async function refresh(ctx: UserContext, refreshToken: string): Promise<Result<SignedIn>> {
  const tokenHash = sha256(refreshToken);
  const now = ctx.now();
  const outcome = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .forUpdate()
      .executeTakeFirst();
    if (!row) return { kind: 'invalid' as const };
    if (row.used_at) return { kind: 'reused' as const, row };
    if (row.expires_at.getTime() <= now.getTime()) return { kind: 'invalid' as const };
    const [session, user] = await Promise.all([
      loadStream(ctx, sessionDecider, streams.session(row.session_id)),
      loadStream(ctx, userDecider, streams.user(row.user_id)),
    ]);
    if (session.state.status !== 'active' || user.state.status !== 'registered')
      return { kind: 'invalid' as const };
    const next = newRefreshToken();
    await trx
      .updateTable('refresh_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', tokenHash)
      .execute();
    await trx
      .insertInto('refresh_tokens')
      .values({
        token_hash: sha256(next),
        session_id: row.session_id,
        user_id: row.user_id,
        expires_at: refreshExpiry(ctx, now),
        used_at: null,
      })
      .execute();
    return { kind: 'rotated' as const, row, user: user.state, next };
  });
  if (outcome.kind === 'invalid') return { ok: false, error: invalidRefreshToken() };
  if (outcome.kind === 'reused') {
    await revokeSession(ctx, outcome.row.user_id, outcome.row.session_id, 'refresh-token-reuse');
    ctx.logger.warn('refresh token reused: session revoked', {
      userId: outcome.row.user_id,
      sessionId: outcome.row.session_id,
    });
    return {
      ok: false,
      error: domainError(
        'refresh-token-reused',
        'This refresh token was already used: the session has been ended, sign in again',
      ),
    };
  }
  ctx.usage.sessionUsed(outcome.row.session_id, now);
  const accessToken = await ctx.tokens.sign(
    { userId: outcome.user.userId, role: outcome.user.role, sessionId: outcome.row.session_id },
    ctx.config.ACCESS_TOKEN_TTL_SECONDS,
  );
  return {
    ok: true,
    value: {
      user: userView(outcome.user),
      accessToken,
      refreshToken: outcome.next,
      expiresIn: ctx.config.ACCESS_TOKEN_TTL_SECONDS,
    },
  };
}

/**
 * Ends a session: its access tokens are refused at once here (and by the other instances as
 * soon as they read the event), its refresh tokens are deleted.
 */
export async function revokeSession(
  ctx: UserContext,
  userId: string,
  sessionId: string,
  reason: SessionRevokeReason,
): Promise<Result<Position | undefined>> {
  const now = ctx.now();
  const revoked = await runCommand({
    store: ctx.store,
    catalog: ctx.catalog,
    decider: sessionDecider,
    streamId: streams.session(sessionId),
    userId,
    command: { type: 'RevokeSession', userId, reason, now: now.toISOString() },
  });
  if (!revoked.ok) return revoked;
  if (revoked.state.status === 'revoked') ctx.revocations.add(sessionId, revoked.state.revokedAt);
  await ctx.db.deleteFrom('refresh_tokens').where('session_id', '=', sessionId).execute();
  return { ok: true, value: revoked.position };
}

/** POST /auth/logout: this session, or with `all` every live session of the user. */
export async function logout(
  ctx: UserContext,
  userId: string,
  currentSessionId: string,
  all: boolean,
): Promise<void> {
  const positions: (Position | undefined)[] = [];
  const current = await revokeSession(ctx, userId, currentSessionId, all ? 'logout-all' : 'logout');
  if (current.ok) positions.push(current.value);
  if (all) {
    const live = await ctx.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
    for (const { id } of live) {
      if (id === currentSessionId) continue;
      const result = await revokeSession(ctx, userId, id, 'logout-all');
      if (result.ok) positions.push(result.value);
    }
  }
  await ctx.waitForProjections(latest(...positions));
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
  ctx: UserContext,
  userId: string,
  currentSessionId: string,
): Promise<SessionView[]> {
  const now = ctx.now();
  const rows = await ctx.db
    .selectFrom('sessions as s')
    .leftJoin('session_activity as a', 'a.session_id', 's.id')
    .select(['s.id', 's.created_at', 's.user_agent', 's.ip', 'a.last_used_at'])
    .where('s.user_id', '=', userId)
    .where('s.revoked_at', 'is', null)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('refresh_tokens as r')
          .select('r.session_id')
          .whereRef('r.session_id', '=', 's.id')
          .where('r.used_at', 'is', null)
          .where('r.expires_at', '>', now),
      ),
    )
    .orderBy('s.created_at', 'desc')
    .execute();
  return rows
    .filter((row) => !ctx.revocations.has(row.id))
    .map((row) => {
      const lastUsed = Math.max(
        row.created_at.getTime(),
        row.last_used_at?.getTime() ?? 0,
        ctx.usage.sessionLastUsed(row.id)?.getTime() ?? 0,
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
  ctx: UserContext,
  email: string,
  userId: string,
): Promise<Result<Position | undefined>> {
  const reserved = await runCommand({
    store: ctx.store,
    catalog: ctx.catalog,
    decider: emailReservationDecider,
    streamId: streams.email(email),
    userId,
    command: async (state) => {
      let holderUsesIt = false;
      if (state.status === 'reserved' && state.userId !== userId) {
        const holder = await loadStream(ctx, userDecider, streams.user(state.userId));
        holderUsesIt = holder.state.status === 'registered' && holder.state.email === email;
      }
      return {
        type: 'ReserveEmail' as const,
        email,
        userId,
        holderUsesIt,
        now: ctx.now().toISOString(),
      };
    },
  });
  return reserved.ok ? { ok: true, value: reserved.position } : reserved;
}

export async function releaseEmail(
  ctx: UserContext,
  email: string,
  userId: string,
): Promise<Position | undefined> {
  const released = await runCommand({
    store: ctx.store,
    catalog: ctx.catalog,
    decider: emailReservationDecider,
    streamId: streams.email(email),
    userId,
    command: { type: 'ReleaseEmail', email, userId, now: ctx.now().toISOString() },
  });
  return released.ok ? released.position : undefined;
}

async function startSession(
  ctx: UserContext,
  userId: string,
  role: Role,
  client: ClientInfo,
): Promise<{ tokens: Omit<SignedIn, 'user'>; position: Position | undefined }> {
  const sessionId = randomUUID();
  const now = ctx.now();
  const refreshToken = newRefreshToken();
  await ctx.db
    .insertInto('refresh_tokens')
    .values({
      token_hash: sha256(refreshToken),
      session_id: sessionId,
      user_id: userId,
      expires_at: refreshExpiry(ctx, now),
      used_at: null,
    })
    .execute();
  const started = await runCommand({
    store: ctx.store,
    catalog: ctx.catalog,
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
  const accessToken = await ctx.tokens.sign(
    { userId, role, sessionId },
    ctx.config.ACCESS_TOKEN_TTL_SECONDS,
  );
  return {
    tokens: { accessToken, refreshToken, expiresIn: ctx.config.ACCESS_TOKEN_TTL_SECONDS },
    position: started.position,
  };
}

function refreshExpiry(ctx: UserContext, now: Date): Date {
  return new Date(now.getTime() + ctx.config.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
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
