import { randomUUID } from 'node:crypto';
import { type Kysely } from 'kysely';
import { type Database, createDatabase, migrateAll } from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { migrations } from '../../migrations';
import { LoginThrottle } from '../../src/application/login-throttle';
import { NotificationHub } from '../../src/application/notification-hub';
import { HashGate, HashingBusyError } from '../../src/application/passwords';
import { AuthLimits } from '../../src/application/rate-limits';
import { type UserDb } from '../../src/database';
import { sleep } from '@meetmatt/infra/runtime/backoff';

describe('the guess throttle and the sign-in limits, on PostgreSQL', () => {
  let testDb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase('user_throttle');
    database = createDatabase({ url: testDb.url, max: 12 });
    await migrateAll(database.db, migrations);
  });

  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  const db = () => database.db as unknown as Kysely<UserDb>;

  test('when ten attempts reserve at once with five free, then exactly five may be evaluated', async () => {
    const throttle = new LoginThrottle(db(), 5, 900);
    const key = LoginThrottle.key(randomUUID(), '10.0.0.1');
    const now = new Date();
    const attempts = await Promise.all(
      Array.from({ length: 10 }, () => throttle.reserve(key, now)),
    );
    expect(attempts.filter((a) => a.ok)).toHaveLength(5);
    for (const refused of attempts.filter((a) => !a.ok))
      expect(refused).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  test('when the same email is tried from another address, then its attempts are its own', async () => {
    const throttle = new LoginThrottle(db(), 2, 900);
    const email = randomUUID();
    const now = new Date();
    const attacker = LoginThrottle.key(email, '10.0.0.66');
    for (let i = 0; i < 5; i++) await throttle.reserve(attacker, now);
    expect((await throttle.reserve(attacker, now)).ok).toBe(false);
    expect(await throttle.reserve(LoginThrottle.key(email, '10.0.0.7'), now)).toEqual({ ok: true });
  });

  test('when an attempt succeeds or was never evaluated, then it is given back', async () => {
    const throttle = new LoginThrottle(db(), 2, 900);
    const key = LoginThrottle.key(randomUUID(), '10.0.0.2');
    const now = new Date();
    expect((await throttle.reserve(key, now)).ok).toBe(true);
    await throttle.release(key, 'not-evaluated');
    expect((await throttle.reserve(key, now)).ok).toBe(true);
    await throttle.release(key, 'success');
    expect((await throttle.reserve(key, now)).ok).toBe(true);
    // The second counted attempt blocks the next one (1 s), the delay doubling from there.
    expect((await throttle.reserve(key, now)).ok).toBe(true);
    expect(await throttle.reserve(key, now)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect((await throttle.reserve(key, new Date(now.getTime() + 1_000))).ok).toBe(true);
    expect(await throttle.reserve(key, new Date(now.getTime() + 1_000))).toEqual({
      ok: false,
      retryAfterSeconds: 2,
    });
  });

  test('when a limit is passed within its window, then the rest wait until the window ends', async () => {
    const limits = new AuthLimits(db(), 60_000);
    const rule = { name: 'register:address', limit: 3 };
    const subject = `10.1.${Math.floor(Math.random() * 250)}.1`;
    const now = new Date();
    const waits = await Promise.all(
      Array.from({ length: 6 }, () => limits.hit(rule, subject, now)),
    );
    expect(waits.filter((w) => w === 0)).toHaveLength(3);
    expect(waits.filter((w) => w === 60)).toHaveLength(3);
    expect(await limits.hit(rule, subject, new Date(now.getTime() + 60_000))).toBe(0);
  });
});

describe('the password hashing gate', () => {
  const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve('done'), 150));

  test('when more hashes come than slots and queue, then the extra ones are refused at once with a Retry-After', async () => {
    const gate = new HashGate({ concurrency: 2, queue: 1, waitMs: 2_000 });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => gate.run(slow)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(HashingBusyError);
      expect((r.reason as HashingBusyError).retryAfterSeconds).toBe(2);
    }
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });

  test('when a queued hash waits longer than its bound, then it is refused and never runs', async () => {
    const gate = new HashGate({ concurrency: 1, queue: 4, waitMs: 50 });
    let ran = 0;
    const work = () => {
      ran += 1;
      return slow();
    };
    const results = await Promise.allSettled([gate.run(work), gate.run(work)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(ran).toBe(1);
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });

  test('when the slots never overflow, then at most `concurrency` run at once', async () => {
    const gate = new HashGate({ concurrency: 2, queue: 10, waitMs: 5_000 });
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        gate.run(async () => {
          running += 1;
          most = Math.max(most, running);
          await sleep(20);
          running -= 1;
        }),
      ),
    );
    expect(most).toBe(2);
  });
});

describe('notification streams per user', () => {
  test('when a user opens more streams than allowed, then the oldest are closed and the newest kept', () => {
    const hub = new NotificationHub(2);
    const userId = randomUUID();
    const evicted: number[] = [];
    const received: number[] = [];
    for (let i = 0; i < 4; i++)
      hub.subscribe(
        userId,
        () => received.push(i),
        () => evicted.push(i),
      );
    expect(evicted).toEqual([0, 1]);
    expect(hub.connections).toBe(2);
    hub.publish(userId, {
      id: randomUUID(),
      kind: 'payment.confirmed',
      title: 't',
      body: 'b',
      link: null,
      correlationId: null,
      read: false,
      createdAt: new Date().toISOString(),
    });
    expect(received).toEqual([2, 3]);
    // Another user's streams are theirs.
    hub.subscribe(randomUUID(), () => undefined);
    expect(hub.connections).toBe(3);
  });
});
