/**
 * `meetmatt users …`: look a user up, and grant or revoke the admin role. A role changes only
 * here, as `user.role-changed` in the user's stream through the user service's own decider,
 * naming the operator; never by registering an address. The specs load nothing heavy; the
 * user service's code is imported when a command runs.
 */
import { type Role, type UserEvent } from '@meetmatt/contracts';
import { type EventCatalog } from '@meetmatt/infra';
import { type CommandSpec, type Invocation } from '../command';
import { CliError } from '../errors';
import { formatTime } from '../format';
import { type Runtime } from '../runtime';

const userArg = { name: 'user', description: 'An email address or a user id' };

export const usersShow: CommandSpec = {
  name: 'users show',
  summary: 'One user as the event store has them: id, email, role, and every role change',
  args: [userArg],
  examples: ['meetmatt users show ada@example.com', 'meetmatt users show 7f3e2a9c-… --json'],
  run: (runtime, invocation) => show(runtime, invocation),
};

const operatorOption = {
  operator: {
    type: 'string' as const,
    value: '<name>',
    description: 'Who is doing this, for the record (default: $USER)',
  },
};

export const usersGrantAdmin: CommandSpec = {
  name: 'users grant-admin',
  summary: 'Make a user an operator (role admin), recorded as user.role-changed',
  description:
    'The only way to make an admin. Their current access tokens keep the old role until they expire (ACCESS_TOKEN_TTL_SECONDS); the next refresh or sign-in carries admin.',
  args: [userArg],
  options: operatorOption,
  changesState: true,
  examples: [
    'meetmatt users grant-admin ops@meetmatt.ai',
    'meetmatt users grant-admin ops@meetmatt.ai --operator alice --yes',
    'meetmatt users grant-admin 7f3e2a9c-… --dry-run --json',
  ],
  run: (runtime, invocation) => setRole(runtime, invocation, 'admin'),
};

export const usersRevokeAdmin: CommandSpec = {
  name: 'users revoke-admin',
  summary: 'Make an admin a plain user again, recorded as user.role-changed',
  description:
    'Their current access tokens keep the admin role until they expire (ACCESS_TOKEN_TTL_SECONDS); to cut that short, end their sessions too.',
  args: [userArg],
  options: operatorOption,
  changesState: true,
  examples: [
    'meetmatt users revoke-admin ops@meetmatt.ai',
    'meetmatt users revoke-admin ops@meetmatt.ai --operator alice --yes --json',
  ],
  run: (runtime, invocation) => setRole(runtime, invocation, 'user'),
};

async function userDeps(runtime: Runtime) {
  const handle = await runtime.service('user');
  return {
    store: handle.store,
    catalog: handle.info.catalog() as unknown as EventCatalog<UserEvent>,
  };
}

async function findOrFail(runtime: Runtime, who: string) {
  const deps = await userDeps(runtime);
  const { findUser } = await import('@meetmatt/user-service/application/roles');
  const found = await findUser(deps, who);
  if (!found) throw new CliError(`no user ${JSON.stringify(who)} in the user service`);
  return { deps, found };
}

interface RoleChange {
  role: Role;
  previousRole: Role;
  operator: string;
  changedAt: string;
}

async function show(runtime: Runtime, { args, json }: Invocation): Promise<void> {
  const { deps, found } = await findOrFail(runtime, args[0]!);
  const user = found.state;
  const events = await deps.store.readStream(`user-${user.userId}`);
  const changes = events
    .filter((e) => e.type === 'user.role-changed')
    .map((e) => e.data as RoleChange);
  const out = runtime.out;
  if (json) {
    out.printJson({
      id: user.userId,
      email: user.email,
      displayName: user.displayName,
      role: user.role,
      registeredAt: user.registeredAt,
      revision: found.revision,
      roleChanges: changes,
    });
    return;
  }
  out.fields([
    ['id', user.userId],
    ['email', user.email],
    ['name', user.displayName],
    ['role', user.role],
    ['registered', `${formatTime(new Date(user.registeredAt))} UTC`],
    ['revision', String(found.revision)],
  ]);
  if (changes.length > 0) {
    out.line();
    out.table(
      [
        { header: 'CHANGED (UTC)', value: (c: RoleChange) => formatTime(new Date(c.changedAt)) },
        { header: 'FROM', value: (c) => c.previousRole },
        { header: 'TO', value: (c) => c.role },
        { header: 'OPERATOR', value: (c) => c.operator },
      ],
      changes,
    );
  }
}

async function setRole(
  runtime: Runtime,
  { args, values, json, yes, dryRun }: Invocation,
  role: Role,
): Promise<void> {
  const operator = ((values.operator as string | undefined) ?? runtime.env.USER ?? '').trim();
  if (!operator) throw new CliError('say who is doing this: --operator <name> (or set $USER)', 2);
  if (operator.length > 128) throw new CliError('--operator is at most 128 characters', 2);
  const { deps, found } = await findOrFail(runtime, args[0]!);
  const user = found.state;
  const out = runtime.out;
  const verb = role === 'admin' ? 'grant admin to' : 'revoke admin from';
  if (user.role === role) {
    if (json) out.printJson({ userId: user.userId, email: user.email, role, changed: false });
    else out.line(`${user.email} is ${role === 'admin' ? 'an admin' : 'not an admin'} already`);
    return;
  }
  if (dryRun) {
    if (json)
      out.printJson({
        dryRun: true,
        userId: user.userId,
        email: user.email,
        role: user.role,
        wouldBe: role,
        operator,
      });
    else out.line(`would ${verb} ${user.email} (${user.userId}) as ${operator}`);
    return;
  }
  await out.confirm(
    `${verb[0]!.toUpperCase()}${verb.slice(1)} ${user.email} (${user.userId})?`,
    yes,
  );
  const { changeRole } = await import('@meetmatt/user-service/application/roles');
  const changed = await changeRole(deps, user.userId, role, operator, new Date());
  if (!changed.ok) throw new CliError(`${user.email}: ${changed.error.message}`);
  if (json)
    out.printJson({
      userId: user.userId,
      email: user.email,
      role: changed.state.role,
      changed: changed.changed,
      operator,
    });
  else
    out.line(
      changed.changed
        ? `${user.email} is now ${role === 'admin' ? 'an admin' : 'a plain user'} (recorded as user.role-changed by ${operator})`
        : `${user.email} was ${role} already`,
    );
}
