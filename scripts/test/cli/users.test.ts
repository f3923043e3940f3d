import { randomUUID } from 'node:crypto';
import { userEventTypes } from '@meetmatt/contracts';
import { streams } from '@meetmatt/user-service/domain/streams';
import {
  type CliFixture,
  appendAll,
  createCliFixture,
  failureLine,
  jsonOf,
  newEvent,
  runCli,
} from '../support/cli';

// Every command is a process of its own (node and the bundled services' code load each time).
jest.setTimeout(120_000);

let fixture: CliFixture;

beforeAll(async () => {
  fixture = await createCliFixture('cli_users');
});

afterAll(async () => {
  await fixture?.drop();
});

/** A registered user in the user service's store, as its register command leaves them. */
async function registered(email = `ops.${randomUUID().slice(0, 8)}@example.com`) {
  const userId = randomUUID();
  const store = fixture.services.user.store;
  const now = new Date().toISOString();
  await appendAll(store, streams.email(email), [
    newEvent(userEventTypes.emailReserved, { email, userId, reservedAt: now }),
  ]);
  await appendAll(store, streams.user(userId), [
    newEvent(userEventTypes.registered, {
      userId,
      email,
      displayName: 'Ops',
      role: 'user',
      registeredAt: now,
    }),
  ]);
  return { userId, email };
}

async function roleEvents(userId: string) {
  const events = await fixture.services.user.store.readStream(streams.user(userId));
  return events.filter((e) => e.type === userEventTypes.roleChanged);
}

describe('meetmatt users', () => {
  test('when an operator grants admin by email, then user.role-changed names them and users show says admin', async () => {
    const user = await registered();
    const granted = await runCli(
      ['users', 'grant-admin', user.email.toUpperCase(), '--operator', 'alice', '--yes', '--json'],
      fixture.env,
    );
    expect(granted.code).toBe(0);
    expect(jsonOf(granted)).toMatchObject({ userId: user.userId, role: 'admin', changed: true });
    const events = await roleEvents(user.userId);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({
      role: 'admin',
      previousRole: 'user',
      operator: 'alice',
    });

    const shown = await runCli(['users', 'show', user.userId, '--json'], fixture.env);
    expect(shown.code).toBe(0);
    expect(jsonOf(shown)).toMatchObject({
      id: user.userId,
      email: user.email,
      role: 'admin',
      roleChanges: [{ role: 'admin', operator: 'alice' }],
    });
  });

  test('when no operator is named, then $USER is recorded; revoking makes a plain user again', async () => {
    const user = await registered();
    const env = { ...fixture.env, USER: 'bob' };
    expect((await runCli(['users', 'grant-admin', user.email, '--yes'], env)).code).toBe(0);
    const revoked = await runCli(['users', 'revoke-admin', user.email, '--yes'], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/is now a plain user/);
    const events = await roleEvents(user.userId);
    expect(
      events.map((e) => [
        (e.data as { role: string }).role,
        (e.data as { operator: string }).operator,
      ]),
    ).toEqual([
      ['admin', 'bob'],
      ['user', 'bob'],
    ]);
  });

  test('when it is a dry run, not confirmed, or already so, then nothing is recorded', async () => {
    const user = await registered();
    const [dry, unconfirmed] = await Promise.all([
      runCli(['users', 'grant-admin', user.email, '--operator', 'alice', '--dry-run'], fixture.env),
      runCli(['users', 'grant-admin', user.email, '--operator', 'alice'], fixture.env, {
        input: 'y\n',
      }),
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would grant admin to/);
    expect(unconfirmed.code).toBe(1);
    expect(failureLine(unconfirmed)).toMatch(/Refusing without --yes/);
    const already = await runCli(
      ['users', 'revoke-admin', user.email, '--operator', 'alice', '--yes'],
      fixture.env,
    );
    expect(already.code).toBe(0);
    expect(already.stdout).toMatch(/not an admin already/);
    expect(await roleEvents(user.userId)).toHaveLength(0);
  });

  test('when the user does not exist, then it exits 1 with one line naming them', async () => {
    const result = await runCli(
      ['users', 'grant-admin', 'nobody@example.com', '--operator', 'alice', '--yes'],
      fixture.env,
    );
    expect(result.code).toBe(1);
    expect(failureLine(result)).toBe('error: no user "nobody@example.com" in the user service');
  });
});
