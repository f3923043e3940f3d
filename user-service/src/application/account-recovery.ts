import { randomUUID } from 'node:crypto';
import { type DomainError, type Position, domainError } from '@meetmatt/infra';
import {
  type TokenIssue,
  type UserFacts,
  accountTokensDecider,
} from '../domain/account-tokens-decide';
import { userDecider } from '../domain/user-decide';
import { emailKey, normaliseEmail, streams } from '../domain/streams';
import { emailReservationDecider } from '../domain/email-reservation-decide';
import { type ClientInfo, type Result, revokeSession, tooManyRequests } from './accounts';
import { type UserDependencies } from './dependencies';
import {
  type TokenPurpose,
  deriveToken,
  emailTokenKey,
  tokenHash,
  tokenUser,
} from './email-tokens';
import { latest, loadStream, runCommand } from './user-commands';
import { liveSessionIds } from '../projections/session-queries';

/** A new single-use token for a mail: what the event records (its hash, never the token). */
export function issueToken(
  deps: Pick<UserDependencies, 'config' | 'now'>,
  purpose: TokenPurpose,
  userId: string,
  ttlMs: number,
): TokenIssue {
  const requestId = randomUUID();
  const token = deriveToken(emailTokenKey(deps.config), purpose, userId, requestId);
  return {
    requestId,
    tokenHash: tokenHash(token),
    expiresAt: new Date(deps.now().getTime() + ttlMs).toISOString(),
  };
}

function invalidToken(): DomainError {
  return domainError('token-invalid', 'This link is not valid');
}

/** What the user's stream says that the token decisions need (handed to the decider). */
async function userFacts(
  deps: Pick<UserDependencies, 'catalog' | 'store'>,
  userId: string,
): Promise<UserFacts> {
  const user = await loadStream(deps, userDecider, streams.user(userId));
  const changed = user.events.filter((e) => e.type === 'user.password-changed').at(-1);
  return {
    userId,
    registered: user.state.status === 'registered',
    email: user.state.status === 'registered' ? user.state.email : null,
    passwordChangedAt: changed?.type === 'user.password-changed' ? changed.data.changedAt : null,
  };
}

/** Asks for the verification mail of a user's current address (at sign-up). */
export async function requestEmailVerification(
  deps: Pick<UserDependencies, 'catalog' | 'config' | 'now' | 'store'>,
  userId: string,
): Promise<Result<Position | undefined>> {
  const requested = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: accountTokensDecider,
    streamId: streams.accountTokens(userId),
    userId,
    command: async () => ({
      type: 'RequestEmailVerification' as const,
      user: await userFacts(deps, userId),
      ...issueToken(deps, 'verify-email', userId, deps.config.EMAIL_VERIFICATION_TTL_MS),
      now: deps.now().toISOString(),
    }),
  });
  return requested.ok ? { ok: true, value: requested.position } : requested;
}

/** POST /auth/verify-email: the link of the verification mail. */
export async function verifyEmail(
  deps: Pick<UserDependencies, 'catalog' | 'config' | 'now' | 'store' | 'waitForProjections'>,
  token: string,
): Promise<Result<void>> {
  const userId = tokenUser(emailTokenKey(deps.config), 'verify-email', token);
  if (!userId) return { ok: false, error: invalidToken() };
  const verified = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: accountTokensDecider,
    streamId: streams.accountTokens(userId),
    userId,
    command: async () => ({
      type: 'VerifyEmail' as const,
      user: await userFacts(deps, userId),
      tokenHash: tokenHash(token),
      now: deps.now().toISOString(),
    }),
  });
  if (!verified.ok) return verified;
  await deps.waitForProjections(verified.position);
  return { ok: true, value: undefined };
}

/**
 * POST /auth/password-reset: a reset mail for the account with this address, if there is one.
 * The answer is the same either way (no account enumeration); only the rate limits, counted per
 * client address and per address asked about whether or not it has an account, answer 429.
 */
export async function requestPasswordReset(
  deps: Pick<UserDependencies, 'catalog' | 'config' | 'limits' | 'logger' | 'now' | 'store'>,
  rawEmail: string,
  client: ClientInfo,
): Promise<Result<void>> {
  const email = normaliseEmail(rawEmail);
  const now = deps.now();
  const rules = [
    [
      { name: 'reset:address', limit: deps.config.PASSWORD_RESET_LIMIT_PER_ADDRESS },
      client.ip ?? 'unknown',
    ],
    [{ name: 'reset:email', limit: deps.config.PASSWORD_RESET_LIMIT_PER_EMAIL }, emailKey(email)],
  ] as const;
  for (const [rule, subject] of rules) {
    const wait = await deps.limits.hit(rule, subject, now);
    if (wait > 0) return { ok: false, error: tooManyRequests(wait, 'password resets') };
  }
  const reservation = await loadStream(deps, emailReservationDecider, streams.email(email));
  if (reservation.state.status !== 'reserved') return { ok: true, value: undefined };
  const { userId } = reservation.state;
  // The reservation may outlive the address on the profile (the user moved): no mail then.
  const user = await loadStream(deps, userDecider, streams.user(userId));
  if (user.state.status !== 'registered' || user.state.email !== email)
    return { ok: true, value: undefined };
  const requested = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: accountTokensDecider,
    streamId: streams.accountTokens(userId),
    userId,
    command: {
      type: 'RequestPasswordReset',
      user: await userFacts(deps, userId),
      ...issueToken(deps, 'password-reset', userId, deps.config.PASSWORD_RESET_TTL_MS),
      now: now.toISOString(),
    },
  });
  if (!requested.ok)
    deps.logger.info('password reset not requested', { code: requested.error.code });
  return { ok: true, value: undefined };
}

/**
 * POST /auth/password-reset/confirm: the token is claimed first (the event, appended at the
 * stream's revision: of two uses at once one wins, the other is told token-used), then the new
 * password is stored, then every session of the user ends, as after a password change.
 */
export async function confirmPasswordReset(
  deps: Pick<
    UserDependencies,
    | 'catalog'
    | 'config'
    | 'db'
    | 'now'
    | 'passwords'
    | 'revocations'
    | 'store'
    | 'waitForProjections'
  >,
  input: { token: string; newPassword: string },
): Promise<Result<void>> {
  const userId = tokenUser(emailTokenKey(deps.config), 'password-reset', input.token);
  if (!userId) return { ok: false, error: invalidToken() };
  const command = {
    type: 'CompletePasswordReset' as const,
    user: await userFacts(deps, userId),
    tokenHash: tokenHash(input.token),
    now: deps.now().toISOString(),
  };
  // Decided once before the slow hash, so a used or expired link costs no scrypt time.
  const tokens = await loadStream(deps, accountTokensDecider, streams.accountTokens(userId));
  const refused = accountTokensDecider.decide(command, tokens.state);
  if (!Array.isArray(refused)) return { ok: false, error: refused };
  const passwordHash = await deps.passwords.hash(input.newPassword);
  // Appended at the revision decided on (retried on a conflict, deciding again): of two uses
  // of one link at once, one wins and the other is told token-used.
  const completed = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: accountTokensDecider,
    streamId: streams.accountTokens(userId),
    userId,
    command,
  });
  if (!completed.ok) return completed;
  await deps.db
    .updateTable('credentials')
    .set({ password_hash: passwordHash, updated_at: deps.now() })
    .where('user_id', '=', userId)
    .execute();
  const positions: (Position | undefined)[] = [completed.position];
  const system = { credential: { kind: 'system' as const }, maxAgeMs: 0 };
  for (const id of await liveSessionIds(deps.db, userId)) {
    const ended = await revokeSession(deps, userId, id, 'password-reset', system);
    if (ended.ok) positions.push(ended.value);
  }
  // Refresh tokens of sessions the read model has not shown yet go too.
  await deps.db.deleteFrom('refresh_tokens').where('user_id', '=', userId).execute();
  await deps.waitForProjections(latest(...positions));
  return { ok: true, value: undefined };
}
