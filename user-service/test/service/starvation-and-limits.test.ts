import { createHash } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import {
  type RegisteredUser,
  type UserWorld,
  fromGateway,
  registerUser,
  startWorld,
  strongPassword,
  uniqueEmail,
} from '../support/world';
import { sleep } from '@meetmatt/infra/runtime/backoff';
import { pollUntil } from '@meetmatt/infra/runtime/poll';

/** Answers within `ms`, or 'timeout': a starved service must fail the test, not hang it. */
async function bounded(req: request.Test, ms = 8_000): Promise<number | 'timeout'> {
  try {
    return (await req.timeout(ms)).status;
  } catch (error) {
    if ((error as { timeout?: number }).timeout) return 'timeout';
    throw error;
  }
}

describe('the user service cannot be starved', () => {
  let world: UserWorld;

  beforeAll(async () => {
    // Every /auth/verify with an API key needs the database, as a cold cache does.
    world = await startWorld('user_starve', { API_KEY_CACHE_TTL_MS: '0' });
  });

  afterAll(async () => {
    await world?.stop();
  });

  test('when 30 refreshes of one token and API-key checks come while the token row is busy, then all answer promptly, exactly one refresh wins and the reuse ends the session', async () => {
    const user = await registerUser(world.url);
    const key = await request(world.url)
      .post(`/users/${user.userId}/api-keys`)
      .set('Authorization', user.authorization)
      .send({ name: 'ci' })
      .expect(201);
    // Another transaction holds the token's row for a moment (a slow commit, a vacuum, an
    // operator's query): every refresh arrives while it does, as under real load.
    const blocker = new Client({ connectionString: world.database.url });
    await blocker.connect();
    const released = (async () => {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE', [
        createHash('sha256').update(user.refreshToken).digest('hex'),
      ]);
      await sleep(500);
      await blocker.query('COMMIT');
    })();
    try {
      const started = Date.now();
      const [refreshes, verifies] = await Promise.all([
        Promise.all(
          Array.from({ length: 30 }, () =>
            bounded(
              request(world.url).post('/auth/refresh').send({ refreshToken: user.refreshToken }),
            ),
          ),
        ),
        Promise.all(
          Array.from({ length: 10 }, () =>
            bounded(
              request(world.url)
                .get('/auth/verify')
                .set(fromGateway)
                .set('X-Api-Key', key.body.key as string),
            ),
          ),
        ),
      ]);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(verifies).toEqual(Array.from({ length: 10 }, () => 200));
      expect(refreshes.filter((s) => s === 200)).toHaveLength(1);
      expect(refreshes.filter((s) => s === 401)).toHaveLength(29);
    } finally {
      await released;
      await blocker.end();
    }
    // The token came back 29 times after it was used: the session is over.
    await request(world.url)
      .get('/auth/sessions')
      .set('Authorization', user.authorization)
      .expect(401);
  });
});

describe('sign-in and sign-up limits', () => {
  let world: UserWorld;
  const address = () =>
    `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.7`;

  beforeAll(async () => {
    world = await startWorld('user_limits', {
      PASSWORD_HASH_CONCURRENCY: '1',
      PASSWORD_HASH_QUEUE: '0',
      LOGIN_FAILURES_BEFORE_DELAY: '5',
      REGISTER_LIMIT_PER_ADDRESS: '3',
      LOGIN_LIMIT_PER_ACCOUNT: '3',
    });
  });

  afterAll(async () => {
    await world?.stop();
  });

  const registerFrom = (from: string, email = uniqueEmail(), password = strongPassword()) =>
    request(world.url)
      .post('/auth/register')
      .set('X-Forwarded-For', from)
      .send({ email, password });
  const loginFrom = (from: string, email: string, password: string) =>
    request(world.url).post('/auth/login').set('X-Forwarded-For', from).send({ email, password });

  /** Registers, trying again while the one hashing slot is busy (503). */
  async function registerEventually(from: string, email: string, password = strongPassword()) {
    let res!: Awaited<ReturnType<typeof registerFrom>>;
    await pollUntil(async () => (res = await registerFrom(from, email, password)).status !== 503, {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    return res;
  }

  async function userFrom(from: string): Promise<Pick<RegisteredUser, 'email' | 'password'>> {
    const email = uniqueEmail();
    const password = strongPassword();
    const res = await registerEventually(from, email, password);
    expect(res.status).toBe(201);
    return { email, password };
  }

  test('when ten wrong passwords for one account come at once, then at most five are checked and the rest get 429', async () => {
    const from = address();
    const owner = await userFrom(from);
    const attacker = address();
    const answers: number[] = [];
    // One hashing slot: the guesses that pass the throttle are checked one by one (or 503).
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await loginFrom(attacker, owner.email, 'wrong-password-123');
        answers.push(res.status);
        if (res.status === 429) expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      }),
    );
    expect(answers.filter((s) => s === 401 || s === 503).length).toBeLessThanOrEqual(5);
    expect(answers.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    // The stranger blocked only their own attempts: the owner signs in from home.
    await loginFrom(from, owner.email, owner.password).expect(200);
  });

  test('when strangers from many addresses guess one account, then the account limit stops them but not its owner at a known address', async () => {
    const home = address();
    const owner = await userFrom(home);
    const guesses: number[] = [];
    for (let i = 0; i < 5; i++)
      guesses.push((await loginFrom(address(), owner.email, 'wrong-password-123')).status);
    expect(guesses).toEqual([401, 401, 401, 429, 429]);
    await loginFrom(address(), owner.email, owner.password).expect(429);
    await loginFrom(home, owner.email, owner.password).expect(200);
  });

  test('when one address signs up more than its limit, then 429 with Retry-After and nothing is kept', async () => {
    const from = address();
    for (let i = 0; i < 3; i++) await userFrom(from);
    const email = uniqueEmail();
    const refused = await registerFrom(from, email).expect(429);
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // The refused address was not reserved: someone else may have it.
    expect((await registerEventually(address(), email)).status).toBe(201);
  });

  test('when hashing is at capacity, then sign-ups beyond it get 503 with Retry-After and leave nothing behind', async () => {
    const emails = Array.from({ length: 6 }, () => uniqueEmail());
    const answers = await Promise.all(emails.map((email) => registerFrom(address(), email)));
    const busy = answers.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const res of busy) {
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(answers.filter((r) => r.status !== 503).map((r) => r.status)).toEqual(
      answers.filter((r) => r.status !== 503).map(() => 201),
    );
    // A refused sign-up reserved nothing: the same email registers afterwards.
    const refusedEmail = emails[answers.findIndex((r) => r.status === 503)]!;
    expect((await registerEventually(address(), refusedEmail)).status).toBe(201);
  });

  test('when an email already taken signs up, then 409 without any password hashing', async () => {
    const taken = await userFrom(address());
    const hash = jest.spyOn(world.service.context.passwords, 'hash');
    try {
      await registerFrom(address(), taken.email.toUpperCase()).expect(409);
      expect(hash).not.toHaveBeenCalled();
    } finally {
      hash.mockRestore();
    }
  });

  test('when a sign-up fails after reserving its email, then no credentials row and no reservation outlive it', async () => {
    const email = uniqueEmail();
    const store = world.service.context.store;
    const original = store.appendToStream.bind(store);
    // The user's own stream (user-<uuid>) cannot be written: the reservation already was.
    const append = jest
      .spyOn(store, 'appendToStream')
      .mockImplementation((streamId, events, options) =>
        /^user-[0-9a-f]{8}-/.test(streamId)
          ? Promise.reject(new Error('store lost'))
          : original(streamId, events, options),
      );
    try {
      await registerFrom(address(), email).expect(500);
    } finally {
      append.mockRestore();
    }
    const { rows } = await world.service.host.database.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM credentials WHERE user_id NOT IN (SELECT id FROM users)',
    );
    expect(rows[0]!.n).toBe(0);
    expect((await registerEventually(address(), email)).status).toBe(201);
  });
});
