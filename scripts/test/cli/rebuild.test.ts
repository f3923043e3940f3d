import { randomUUID } from 'node:crypto';
import { userEvents } from '@meetmatt/contracts';
import { listProjections, sql } from '@meetmatt/infra';
import { usersProjection } from '@meetmatt/user-service/projections/users';
import {
  type CliFixture,
  CliProcess,
  createCliFixture,
  jsonOf,
  newEvent,
  runCli,
} from '../support/cli';

// Every command is a process of its own: see streams.test.ts.
jest.setTimeout(120_000);

const USERS = 3_000;
let fixture: CliFixture;

beforeAll(async () => {
  fixture = await createCliFixture('cli_rebuild');
  const { store } = fixture.services.user;
  for (let i = 0; i < USERS; i += 500) {
    const events = Array.from({ length: Math.min(500, USERS - i) }, (_, j) => {
      const userId = randomUUID();
      return newEvent(userEvents.registered.type, {
        userId,
        email: `user${i + j}@example.com`,
        displayName: `User ${i + j}`,
        role: 'user',
        registeredAt: new Date().toISOString(),
      });
    });
    await store.appendToStream(`import-${randomUUID()}`, events, { expectedRevision: 'no_stream' });
  }
});

afterAll(async () => {
  await fixture?.drop();
});

async function users(): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users`.execute(
    fixture.services.user.database.db,
  );
  return rows[0]!.n;
}

test('when a rebuild is interrupted with Ctrl-C, then it reports progress, pauses, and the same command resumes and swaps it in', async () => {
  const rebuild = ['projections', 'rebuild', 'users', '--service', 'user', '--yes'];
  const first = new CliProcess([...rebuild, '--batch-size', '1'], fixture.env);
  first.endInput();
  // Through a pipe, progress is a plain line every two seconds.
  await first.waitFor(/^rebuild users: \d+%, [\d,]+ events {2}[\d,]+ ev\/s {2}at \d+:\d+/m, 60_000);
  first.signal('SIGINT');
  const interrupted = await first.exited;
  expect(interrupted.code).toBe(130);
  expect(interrupted.stdout).toBe('');
  expect(interrupted.stderr.trimEnd().split('\n').at(-1)).toBe(
    'error: rebuild of users paused; run the same command again to resume it',
  );
  const paused = (await listProjections({ db: fixture.services.user.database.db })).find(
    (p) => p.name === 'users',
  )!;
  expect(paused.rebuild).toMatchObject({ state: 'building' });
  const done = paused.rebuild!.eventsDone;
  expect(done).toBeGreaterThan(0);
  expect(done).toBeLessThan(USERS);

  const listed = jsonOf(
    await runCli(['projections', 'list', '--service', 'user', '--json'], fixture.env),
  );
  expect(listed.projections).toEqual([
    expect.objectContaining({
      name: 'users',
      rebuild: expect.objectContaining({ state: 'building' }),
    }),
  ]);

  const resumed = await runCli([...rebuild, '--batch-size', '500'], fixture.env);
  expect(resumed.code).toBe(0);
  expect(resumed.stdout).toMatch(
    new RegExp(
      `^rebuilt user/users v${usersProjection.version}: ${USERS.toLocaleString('en-US')} events in .*, resumed; live from \\d+:\\d+$`,
      'm',
    ),
  );
  expect(await users()).toBe(USERS);
});
