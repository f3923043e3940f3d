import { type Role, type UserEvent } from '@meetmatt/contracts';
import {
  type DomainError,
  type EventCatalog,
  type EventStore,
  type Position,
} from '@meetmatt/infra';
import { emailReservationDecider } from '../domain/email-reservation-decide';
import { normaliseEmail, streams } from '../domain/streams';
import { type UserState } from '../domain/user';
import { userDecider } from '../domain/user-decide';
import { loadStream, runCommand } from './user-commands';

/** What role changes need: the service's event store, nothing else (the CLI has it too). */
export interface RoleDeps {
  store: EventStore;
  catalog: EventCatalog<UserEvent>;
}

export type RegisteredUser = Extract<UserState, { status: 'registered' }>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A user by id or by email, from the event store (the source of truth, not a read model): the
 * email's reservation names the holder, whose stream must carry that address now.
 */
export async function findUser(
  deps: RoleDeps,
  emailOrId: string,
): Promise<{ state: RegisteredUser; revision: number } | undefined> {
  let userId = emailOrId.trim();
  if (!UUID.test(userId)) {
    const email = normaliseEmail(emailOrId);
    const reservation = await loadStream(deps, emailReservationDecider, streams.email(email));
    if (reservation.state.status !== 'reserved') return undefined;
    userId = reservation.state.userId;
    const user = await loadStream(deps, userDecider, streams.user(userId));
    if (user.state.status !== 'registered' || user.state.email !== email) return undefined;
    return { state: user.state, revision: user.revision };
  }
  const user = await loadStream(deps, userDecider, streams.user(userId.toLowerCase()));
  return user.state.status === 'registered'
    ? { state: user.state, revision: user.revision }
    : undefined;
}

/**
 * Grants or revokes the admin role: `user.role-changed` in the user's stream, through the
 * user decider, naming the operator. The only way a role changes. Access tokens already
 * issued keep their role claim until they expire (ACCESS_TOKEN_TTL_SECONDS); the next refresh
 * or sign-in carries the new one.
 */
export async function changeRole(
  deps: RoleDeps,
  userId: string,
  role: Role,
  operator: string,
  now: Date,
): Promise<
  | { ok: true; changed: boolean; state: RegisteredUser; position: Position | undefined }
  | { ok: false; error: DomainError }
> {
  const outcome = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: userDecider,
    streamId: streams.user(userId),
    userId,
    command: {
      type: 'ChangeRole',
      role,
      credential: { kind: 'operator', operator },
      now: now.toISOString(),
    },
  });
  if (!outcome.ok) return outcome;
  if (outcome.state.status !== 'registered') throw new Error('role change left no user');
  return {
    ok: true,
    changed: outcome.appended > 0,
    state: outcome.state,
    position: outcome.position,
  };
}
