import { randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { start as startBrain } from '@meetmatt/brain-service';
import { start as startPayment } from '@meetmatt/payment-service';
import { start as startUser } from '@meetmatt/user-service';
import { type RunningService } from '@meetmatt/infra';
import {
  type TestDatabase,
  type TestVhost,
  captureLogger,
  createTestDatabase,
  createTestVhost,
  eventually,
  untilAnswering,
} from '@meetmatt/infra/testing';

/**
 * Revocation holds at every service, not only at the gateway: user-service, payment-service and
 * brain-service run in-process on one RabbitMQ vhost (each with its own database), and the
 * requests go to payment and brain directly, as one that bypassed the gateway would.
 */
describe('revocation at every service', () => {
  const gatewaySecret = randomBytes(24).toString('base64url');
  const fromGateway = { 'x-gateway-secret': gatewaySecret };
  let vhost: TestVhost;
  let databases: { user: TestDatabase; payment: TestDatabase; brain: TestDatabase };
  let user: RunningService;
  let payment: RunningService;
  let brain: RunningService;
  const extra: RunningService[] = [];
  let paymentEnv: Record<string, string>;

  const ready = (url: string) => untilAnswering(`${url}/readyz`, { timeoutMs: 30_000 });

  beforeAll(async () => {
    const [v, u, p, b] = await Promise.all([
      createTestVhost('revocation'),
      createTestDatabase('revocation_user'),
      createTestDatabase('revocation_payment'),
      createTestDatabase('revocation_brain'),
    ]);
    vhost = v;
    databases = { user: u, payment: p, brain: b };
    const common = { PORT: '0', RABBITMQ_URL: vhost.url, NODE_ENV: 'test', LOG_LEVEL: 'warn' };
    user = await startUser({
      env: {
        ...common,
        DATABASE_URL: u.url,
        PASSWORD_SCRYPT_LOG_N: '10',
        GATEWAY_SHARED_SECRET: gatewaySecret,
      },
      logger: captureLogger('user-service').logger,
    });
    const auth = { AUTH_JWKS_URL: `${user.url}/.well-known/jwks.json` };
    paymentEnv = {
      ...common,
      ...auth,
      DATABASE_URL: p.url,
      NOWPAYMENTS_API_URL: 'http://127.0.0.1:9',
      NOWPAYMENTS_API_KEY: `test-${randomUUID()}`,
      NOWPAYMENTS_IPN_SECRET: `test-${randomUUID()}`,
      RECONCILER_INTERVAL_MS: '0',
    };
    payment = await startPayment({ env: paymentEnv, logger: captureLogger('payment').logger });
    brain = await startBrain({
      env: {
        ...common,
        ...auth,
        DATABASE_URL: b.url,
        DEVIN_API_URL: 'http://127.0.0.1:9',
        DEVIN_API_KEY: `test-${randomUUID()}`,
      },
      logger: captureLogger('brain-service').logger,
    });
    await Promise.all([user.url, payment.url, brain.url].map(ready));
  }, 90_000);

  afterAll(async () => {
    for (const service of [...extra, brain, payment, user]) await service?.stop();
    await Promise.all([...Object.values(databases ?? {}).map((d) => d.drop()), vhost?.drop()]);
  }, 60_000);

  async function post(path: string, body: unknown, token?: string): Promise<Response> {
    return fetch(`${user.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
  }

  async function register(): Promise<{
    userId: string;
    accessToken: string;
    refreshToken: string;
  }> {
    const res = await post('/auth/register', {
      email: `revocation.${randomUUID()}@example.com`,
      password: `pw-${randomUUID()}`,
      displayName: 'Revocation tester',
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as {
      user: { id: string };
      accessToken: string;
      refreshToken: string;
    };
    return { userId: body.user.id, accessToken: body.accessToken, refreshToken: body.refreshToken };
  }

  /** The statuses payment (GET /payments) and brain (GET /agents) answer this token directly. */
  async function statuses(token: string, at = [payment, brain]): Promise<number[]> {
    const paths = ['/payments', '/agents'];
    return Promise.all(
      at.map(async (service, i) => {
        const res = await fetch(`${service.url}${paths[i] ?? '/payments'}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );
  }

  /** Milliseconds from `since` until payment and brain both answer 401 (fails after 5 s). */
  async function refusedEverywhereAfter(token: string, since: number): Promise<number> {
    await eventually(
      'payment and brain to answer 401',
      async () => expect(await statuses(token)).toEqual([401, 401]),
      { timeoutMs: 5_000 - (Date.now() - since), intervalMs: 20 },
    );
    return Date.now() - since;
  }

  test('when a user logs out, then payment and brain refuse the old access token themselves within a second', async () => {
    const { accessToken } = await register();
    expect(await statuses(accessToken)).toEqual([200, 200]);
    const revokedAt = Date.now();
    expect((await post('/auth/logout', {}, accessToken)).status).toBe(204);
    expect(await refusedEverywhereAfter(accessToken, revokedAt)).toBeLessThan(1_000);
    const refused = await fetch(`${payment.url}/payments`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  test('when a used refresh token comes back, then the killed session is refused by payment and brain within a second', async () => {
    const first = await register();
    const rotated = await post('/auth/refresh', { refreshToken: first.refreshToken });
    expect(rotated.status).toBe(200);
    const second = (await rotated.json()) as { accessToken: string };
    expect(await statuses(second.accessToken)).toEqual([200, 200]);
    const reusedAt = Date.now();
    expect((await post('/auth/refresh', { refreshToken: first.refreshToken })).status).toBe(401);
    expect(await refusedEverywhereAfter(second.accessToken, reusedAt)).toBeLessThan(1_000);
    expect(await statuses(first.accessToken)).toEqual([401, 401]);
  });

  test('when an API key is revoked, then the token /auth/verify minted from it is refused by payment and brain within a second', async () => {
    const owner = await register();
    const created = await post(
      `/users/${owner.userId}/api-keys`,
      { name: 'script' },
      owner.accessToken,
    );
    expect(created.status).toBe(201);
    const key = (await created.json()) as { id: string; key: string };
    const verified = await fetch(`${user.url}/auth/verify`, {
      headers: { ...fromGateway, 'x-api-key': key.key },
    });
    expect(verified.status).toBe(200);
    const minted = verified.headers.get('x-access-token')!;
    expect(decodeJwt(minted)).toMatchObject({ sub: owner.userId, akid: key.id });
    expect(await statuses(minted)).toEqual([200, 200]);

    const revokedAt = Date.now();
    const revoked = await fetch(`${user.url}/users/${owner.userId}/api-keys/${key.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${owner.accessToken}` },
    });
    expect(revoked.status).toBe(204);
    expect(await refusedEverywhereAfter(minted, revokedAt)).toBeLessThan(1_000);
    // The owner's own session is untouched.
    expect(await statuses(owner.accessToken)).toEqual([200, 200]);
  });

  test('when /auth/verify is called without the gateway secret, then it answers 404 and mints no token', async () => {
    const owner = await register();
    const created = await post(
      `/users/${owner.userId}/api-keys`,
      { name: 'direct' },
      owner.accessToken,
    );
    const { key } = (await created.json()) as { key: string };
    const direct: Record<string, string>[] = [
      { 'x-api-key': key },
      { 'x-api-key': key, 'x-gateway-secret': `${gatewaySecret}x` },
      { 'x-api-key': key, 'x-gateway-secret': '' },
      { authorization: `Bearer ${owner.accessToken}` },
    ];
    for (const headers of direct) {
      const res = await fetch(`${user.url}/auth/verify`, { headers });
      expect([res.status, res.headers.get('x-access-token'), res.headers.get('x-user-id')]).toEqual(
        [404, null, null],
      );
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    const gateway = await fetch(`${user.url}/auth/verify`, {
      headers: { ...fromGateway, 'x-api-key': key },
    });
    expect(gateway.status).toBe(200);
  });

  test('when a payment-service instance starts after a logout, then it refuses the revoked token from its first request', async () => {
    const { accessToken } = await register();
    expect((await post('/auth/logout', {}, accessToken)).status).toBe(204);
    await refusedEverywhereAfter(accessToken, Date.now());
    const late = await startPayment({ env: paymentEnv, logger: captureLogger('payment').logger });
    extra.push(late);
    expect(await statuses(accessToken, [late])).toEqual([401]);
    const { accessToken: fresh } = await register();
    expect(await statuses(fresh, [late])).toEqual([200]);
  });
});
