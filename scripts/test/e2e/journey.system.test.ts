import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ProblemError, createClient } from '@meetmatt/client';
import { gatewayOpenApi } from '@meetmatt/contracts';
import { type JourneyResult, runJourney } from '../../src/lib/gateway-journey';
import { type OpenApiChecker, openApiChecker } from './openapi-check';
import { type TestSystem, startSystem } from '../support/spawned-system';

/**
 * The whole journey through the gateway with every real piece running: three services,
 * PostgreSQL, RabbitMQ, nginx and both sandboxes.
 */
describe('end to end, through the gateway', () => {
  let system: TestSystem;
  let journey: JourneyResult;
  /** Every answer through the gateway in this suite is checked against the gateway's /openapi.json. */
  let checker: OpenApiChecker;
  let served: { status: number; document: Record<string, unknown> };

  beforeAll(async () => {
    // A low per-user rate so the rate-limit test reaches it quickly; the journey stays under it.
    system = await startSystem({ GATEWAY_USER_RATE: '30r/s' });
    const res = await fetch(`${system.gatewayUrl}/openapi.json`);
    served = { status: res.status, document: (await res.json()) as Record<string, unknown> };
    checker = openApiChecker(served.document);
    journey = await runJourney({
      baseUrl: system.gatewayUrl,
      timeoutMs: 60_000,
      fetch: checker.fetch,
    });
  }, 150_000);

  afterAll(async () => {
    await system?.stop();
  }, 30_000);

  /**
   * `unchecked`: an answer outside every operation, which OpenAPI has no place for (a CORS
   * preflight, a path no route serves); every other answer is checked against /openapi.json.
   */
  const api = (path: string, init: RequestInit & { token?: string; unchecked?: true } = {}) =>
    (init.unchecked ? fetch : checker.fetch)(`${system.gatewayUrl}${path}`, {
      ...init,
      headers: {
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });

  test('when /openapi.json is asked of the gateway, then it answers the one document the contracts build for it, with the gateway as its server', () => {
    expect(served.status).toBe(200);
    expect(served.document).toEqual(gatewayOpenApi());
    expect(served.document.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  test('when a customer signs up, pays and waits, then the payment finishes, an invoice is issued and Devin deploys the agent', () => {
    expect(journey.invoiceNumber).toMatch(/^MM-\d{4}-\d{6}$/);
    expect(journey.pullRequestUrl).toMatch(/^https:\/\/github\.com\/.+\/pull\/\d+$/);
    const kinds = journey.notifications.map((n) => n.kind);
    expect(kinds).toEqual(expect.arrayContaining(['payment.confirmed', 'agent.deployed']));
    expect(journey.usage.payments.confirmed).toBe(1);
    expect(journey.usage.agents.deployed).toBe(1);
    expect(journey.usage.apiRequests.total).toBeGreaterThan(0);
  });

  test('when the journey is traced, then every event and notification of it shares one correlation id', async () => {
    const { correlationId, paymentId, agentId } = journey;
    for (const n of journey.notifications) expect(n.correlationId).toBe(correlationId);
    const paymentEvents = await system.query<{ type: string; corr: string }>(
      'payment',
      `SELECT event_type AS type, metadata->>'correlationId' AS corr FROM es_events WHERE stream_id = $1`,
      [`payment-${paymentId}`],
    );
    const agentEvents = await system.query<{ type: string; corr: string }>(
      'brain',
      `SELECT event_type AS type, metadata->>'correlationId' AS corr FROM es_events WHERE stream_id = $1`,
      [`agent-${agentId}`],
    );
    expect(paymentEvents.map((e) => e.type)).toEqual(
      expect.arrayContaining(['payment.created', 'payment.confirmed', 'payment.invoice-issued']),
    );
    expect(agentEvents.map((e) => e.type)).toEqual(
      expect.arrayContaining(['agent.deploy-requested', 'agent.session-started', 'agent.deployed']),
    );
    for (const e of [...paymentEvents, ...agentEvents])
      expect([e.type, e.corr]).toEqual([e.type, correlationId]);
  });

  test('when an API key is used in place of a JWT, then the gateway accepts it and the services see its owner', async () => {
    const created = await api(`/users/${journey.userId}/api-keys`, {
      method: 'POST',
      token: journey.accessToken,
      body: JSON.stringify({ name: 'e2e script' }),
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    const variants: Record<string, string>[] = [
      { 'x-api-key': key },
      { authorization: `Bearer ${key}` },
    ];
    for (const headers of variants) {
      const res = await api('/payments', { headers });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { id: string }[] };
      expect(page.items.map((p) => p.id)).toContain(journey.paymentId);
    }
  });

  test('when a session is revoked, then its access token is refused at once', async () => {
    const login = await api('/auth/login', {
      method: 'POST',
      body: JSON.stringify({ email: journey.email, password: 'wrong password, on purpose' }),
    });
    expect(login.status).toBe(401);
    // a second session of the same user, ended with logout
    const registered = await api('/auth/register', {
      method: 'POST',
      body: JSON.stringify({
        email: `grace+${randomUUID().slice(0, 8)}@example.com`,
        password: 'a long enough password',
      }),
    });
    const { accessToken } = (await registered.json()) as { accessToken: string };
    expect((await api('/agents', { token: accessToken })).status).toBe(200);
    expect(
      (await api('/auth/logout', { method: 'POST', token: accessToken, body: '{}' })).status,
    ).toBe(204);
    const refused = await api('/agents', { token: accessToken });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
  });

  test('when a client goes over the rate limit, then it gets 429 problem+json with Retry-After', async () => {
    const answers = await Promise.all(
      Array.from({ length: 120 }, () => api('/agents', { token: journey.accessToken })),
    );
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.headers.get('retry-after')).toBe('1');
    expect(limited[0]!.headers.get('content-type')).toMatch(/problem\+json/);
    expect(((await limited[0]!.json()) as { status: number }).status).toBe(429);
    expect(answers.some((r) => r.status === 200)).toBe(true);
  });

  test('when a request goes straight to a service without a token, then the service refuses it', async () => {
    for (const url of [
      `${system.serviceUrls.payment}/payments`,
      `${system.serviceUrls.brain}/agents`,
      `${system.serviceUrls.user}/users/${journey.userId}`,
    ]) {
      const res = await fetch(url, {
        headers: { 'x-user-id': journey.userId, 'x-user-role': 'admin' },
      });
      expect([url, res.status]).toEqual([url, 401]);
    }
  });

  test('when a forged NOWPayments webhook comes through the gateway, then it is refused and nothing is recorded', async () => {
    const forged = {
      payment_id: 987654321,
      order_id: journey.paymentId,
      payment_status: 'refunded',
      pay_currency: 'btc',
    };
    const res = await api('/webhooks/nowpayments', {
      method: 'POST',
      headers: { 'x-nowpayments-sig': 'a'.repeat(128) },
      body: JSON.stringify(forged),
    });
    expect(res.status).toBe(401);
    const recorded = await system.query(
      'payment',
      `SELECT 1 FROM es_events WHERE data->>'providerPaymentId' = '987654321' OR (stream_id = $1 AND data->>'to' = 'refunded')`,
      [`payment-${journey.paymentId}`],
    );
    expect(recorded).toEqual([]);
  });

  test('when an authenticated request carries no X-Request-Id, then the response has one, the gateway logged it and the event it caused carries it (what meetmatt trace finds)', async () => {
    const res = await api(`/users/${journey.userId}/api-keys`, {
      method: 'POST',
      token: journey.accessToken,
      body: JSON.stringify({ name: 'traced key' }),
    });
    expect(res.status).toBe(201);
    // fetch joins repeated headers with ", ": one id, 32 hex digits (nginx's $request_id)
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f]{32}$/);
    const { id: keyId } = (await res.json()) as { id: string };
    const events = await system.query<{ corr: string }>(
      'user',
      `SELECT metadata->>'correlationId' AS corr FROM es_events WHERE event_type = 'user.api-key-created' AND data->>'keyId' = $1`,
      [keyId],
    );
    expect(events).toEqual([{ corr: requestId }]);
    const port = new URL(system.gatewayUrl).port;
    const accessLog = path.join(
      __dirname,
      '..',
      '..',
      '..',
      '.run',
      `gateway-${port}`,
      'access.log',
    );
    const logged = readFileSync(accessLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { requestId: string; uri: string; status: number });
    expect(logged.filter((line) => line.requestId === requestId)).toEqual([
      expect.objectContaining({ uri: `/users/${journey.userId}/api-keys`, status: 201 }),
    ]);
  });

  test('when a page on the Vite dev server asks, then CORS lets it through; its notification stream opens with a ticket and no Authorization', async () => {
    const origin = 'http://localhost:5173';
    const preflight = await api('/notifications/stream-ticket', {
      unchecked: true,
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    const issued = await api('/notifications/stream-ticket', {
      method: 'POST',
      token: journey.accessToken,
      headers: { origin },
    });
    expect(issued.status).toBe(201);
    expect(issued.headers.get('access-control-allow-origin')).toBe(origin);
    const { url, ticket } = (await issued.json()) as { url: string; ticket: string };
    const controller = new AbortController();
    const stream = await checker.fetch(`${system.gatewayUrl}${url}`, {
      headers: { origin, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.headers.get('access-control-allow-origin')).toBe(origin);
      const reader = stream.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain(': connected');
    } finally {
      controller.abort();
    }
    const again = await api(url);
    expect(again.status).toBe(401);
    const port = new URL(system.gatewayUrl).port;
    const accessLog = path.join(
      __dirname,
      '..',
      '..',
      '..',
      '.run',
      `gateway-${port}`,
      'access.log',
    );
    expect(readFileSync(accessLog, 'utf8')).not.toContain(ticket);
  });

  /** The typed client on the checked fetch: every answer it gets is checked as well. */
  const typedClient = (retry = {}) =>
    createClient({ baseUrl: system.gatewayUrl, fetch: checker.fetch, retry });

  test('when the typed client walks the journey, then its steps are the calls it made and the profile was changed with its ETag as If-Match', () => {
    const requests = journey.steps.map((s) => `${s.request} ${s.status}`);
    expect(requests.slice(0, 3)).toEqual([
      'POST /auth/register 201',
      'POST /auth/login 200',
      `GET /users/${journey.userId} 200`,
    ]);
    // one read per try; the last change is the one that took
    const changed = requests.indexOf(`PUT /users/${journey.userId} 200`);
    expect(changed).toBeGreaterThan(2);
    expect(requests[changed - 1]).toBe(`GET /users/${journey.userId} 200`);
    expect(requests[changed + 1]).toBe('POST /payments/create 201');
    expect(journey.refreshToken).not.toBe('');
  });

  test('when the typed client sends bad input, then the 400 is a ProblemError naming the field', async () => {
    const error = await typedClient()
      .api.register({ body: { email: 'not an email', password: 'a long enough password' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    const problem = error as ProblemError;
    expect(problem.status).toBe(400);
    expect(problem.fieldErrors.map((e) => e.field)).toContain('email');
    expect(problem.requestId).toMatch(/\S/);
  });

  test('when the typed client sends a stale If-Match, then it gets a 412 ProblemError, and the fresh ETag works', async () => {
    const client = typedClient();
    await client.api.login({ body: { email: journey.email, password: journey.password } });
    const stale = await client.api
      .updateUser({ params: { id: journey.userId }, ifMatch: '"0"', body: { displayName: 'Ada' } })
      .catch((e: unknown) => e);
    expect((stale as ProblemError).status).toBe(412);
    // A 412 is answered once the views show the stream's head: the next read has the ETag to use.
    const read = await client.api.getUser({ params: { id: journey.userId } });
    expect(read.etag).toMatch(/^(W\/)?"[^"]+"$/);
    const changed = await client.api.updateUser({
      params: { id: journey.userId },
      ifMatch: read.etag!,
      body: { displayName: 'Ada Lovelace' },
    });
    expect(changed.body.displayName).toBe('Ada Lovelace');
    expect(changed.etag).not.toBe(read.etag);
  });

  test('when the access token is refused, then the typed client refreshes once and the call succeeds with the new token', async () => {
    const client = typedClient();
    const signedIn = await client.api.login({
      body: { email: journey.email, password: journey.password },
    });
    const { accessToken, refreshToken } = signedIn.body;
    // The same token with its signature broken: the gateway refuses it as an expired one would be.
    const broken = `${accessToken.slice(0, -4)}${accessToken.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    client.setTokens({ accessToken: broken, refreshToken });
    const agents = await client.api.listAgents();
    expect(agents.status).toBe(200);
    expect(agents.body.items.map((a) => a.id)).toContain(journey.agentId);
    expect(client.tokens()?.refreshToken).not.toBe(refreshToken);
    expect(client.tokens()?.accessToken).not.toBe(broken);
    expect(checker.checked.get('POST /auth/refresh 200')).toBeGreaterThanOrEqual(1);
  });

  test('when the typed client is rate limited, then it waits for Retry-After and every call ends in 200', async () => {
    const client = typedClient({ attempts: 6 });
    await client.api.login({ body: { email: journey.email, password: journey.password } });
    const replies = await Promise.all(Array.from({ length: 45 }, () => client.api.listAgents()));
    expect(new Set(replies.map((r) => r.status))).toEqual(new Set([200]));
    expect(Math.max(...replies.map((r) => r.attempts))).toBeGreaterThan(1);
  });

  test('when an unknown path is asked for, then the gateway answers a JSON 404 with the request id', async () => {
    const res = await api('/nothing-here', {
      unchecked: true,
      headers: { 'x-request-id': 'e2e-404' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(res.headers.get('x-request-id')).toBe('e2e-404');
  });

  // Last: every answer the tests above received went through the checker.
  test('when every answer of the journey and of these tests is checked against /openapi.json, then each is described (method, path template, status and body)', () => {
    expect(checker.mismatches).toEqual([]);
    const seen = [...checker.checked.keys()];
    expect(seen).toEqual(
      expect.arrayContaining([
        'POST /auth/register 201',
        'POST /auth/register 400',
        'GET /users/{id} 200',
        'PUT /users/{id} 200',
        'PUT /users/{id} 412',
        'POST /auth/refresh 200',
        'POST /payments/create 201',
        'GET /payments/{id}/invoice 200',
        'GET /agents/{id} 200',
        'GET /agents 429',
        'POST /webhooks/nowpayments 401',
      ]),
    );
  });
});
