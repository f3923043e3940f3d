import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import {
  type Client,
  type Tokens,
  NetworkError,
  ProblemError,
  TimeoutError,
  UnexpectedResponseError,
  createClient,
} from '../src';
import { authResponse, json, plans, problem, startApiDouble } from './support/api-double';

type Double = Awaited<ReturnType<typeof startApiDouble>>;

const userId = randomUUID();
const paymentId = randomUUID();
const now = () => new Date().toISOString();
const user = () => ({ ...(authResponse('a', 'r').user as object), id: userId });
const payment = () => ({
  id: paymentId,
  status: 'waiting',
  plan: 'starter',
  priceAmount: 49,
  priceCurrency: 'usd',
  payCurrency: 'btc',
  payAmount: 0.0012,
  payAddress: 'bc1qexample',
  payinExtraId: null,
  providerPaymentId: '4711',
  expiresAt: null,
  createdAt: now(),
});
const agentRequest = {
  plan: 'starter',
  payCurrency: 'btc',
  agent: { name: 'Matt', instructions: 'Answer support emails politely.' },
};

describe('the typed client, against an HTTP double of the gateway', () => {
  let api: Double;
  let client: Client;
  let tokenChanges: (Tokens | undefined)[];

  beforeEach(async () => {
    api = await startApiDouble();
    tokenChanges = [];
    client = createClient({
      baseUrl: api.url,
      retry: { minDelayMs: 10, maxDelayMs: 20 },
      onTokens: (tokens) => tokenChanges.push(tokens),
    });
  });

  afterEach(async () => {
    await api.close();
  });

  test('when an operation is called, then its method and path come from the contract, parameters encoded and the query built', async () => {
    api.handle((req, res) =>
      req.url.startsWith('/agents')
        ? json(res, 200, { items: [], nextCursor: null })
        : json(res, 200, { id: paymentId, status: 'finished', actuallyPaid: 1, updatedAt: now() }),
    );
    const status = await client.api.getPaymentStatus({ params: { id: paymentId } });
    expect(status.status).toBe(200);
    expect(status.body.status).toBe('finished');
    expect(status.request).toBe(`GET /payments/${paymentId}/status`);
    await client.api.listAgents({ query: { limit: 5 } });
    expect(api.received.map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET /payments/${paymentId}/status`,
      'GET /agents?limit=5',
    ]);
    await expect(client.api.getAgent({ params: { id: '' } })).rejects.toThrow(
      'getAgent: params.id is required',
    );
  });

  test('when the API answers 400 problem+json, then a ProblemError carries status, type, title, the fields and the request id', async () => {
    api.handle((_req, res) =>
      problem(res, 400, 'Invalid request', {
        errors: [{ field: 'email', in: 'body', message: 'expected an email address' }],
        extension: 'RFC 9457 allows members like this one',
      }),
    );
    const error = await client.api
      .login({ body: { email: 'not an email', password: 'x' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    const problemError = error as ProblemError;
    expect([problemError.status, problemError.type, problemError.title]).toEqual([
      400,
      'https://meetmatt.dev/problems/400',
      'Invalid request',
    ]);
    expect(problemError.fieldError('email')).toBe('expected an email address');
    expect(problemError.requestId).toBe('req-400');
    expect(problemError.attempts).toBe(1);
    expect(api.received).toHaveLength(1);
  });

  test('when an error answer is not problem+json (a proxy page), then it is still a ProblemError with its status', async () => {
    api.handle((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad'));
    const error = (await client.api.listPlans().catch((e: unknown) => e)) as ProblemError;
    expect([error.name, error.status, error.type]).toEqual(['ProblemError', 502, 'about:blank']);
  });

  test('when a user signs in, then the client keeps the tokens, sends the bearer to authenticated operations only and forgets it on logout', async () => {
    api.handle((req, res) => {
      if (req.url === '/auth/login') return json(res, 200, authResponse('access-1', 'refresh-1'));
      if (req.url === '/auth/logout') return void res.writeHead(204).end();
      if (req.url === '/auth/sessions') return json(res, 200, { sessions: [] });
      return json(res, 200, plans);
    });
    const login = await client.api.login({ body: { email: 'ada@example.com', password: 'pw' } });
    expect(login.body.accessToken).toBe('access-1');
    expect(client.tokens()).toEqual({ accessToken: 'access-1', refreshToken: 'refresh-1' });
    await client.api.listSessions();
    await client.api.listPlans();
    await client.api.logout();
    expect(api.received.map((r) => [r.url, r.headers.authorization])).toEqual([
      ['/auth/login', undefined],
      ['/auth/sessions', 'Bearer access-1'],
      ['/payments/plans', undefined],
      ['/auth/logout', 'Bearer access-1'],
    ]);
    expect(api.received[3]!.body).toBe('{}');
    expect(client.tokens()).toBeUndefined();
    expect(tokenChanges).toEqual([
      { accessToken: 'access-1', refreshToken: 'refresh-1' },
      undefined,
    ]);
  });

  test('when the access token is refused, then concurrent calls share one refresh and are sent again with the new token', async () => {
    client.setTokens({ accessToken: 'expired', refreshToken: 'refresh-1' });
    api.handle((req, res) => {
      if (req.url === '/auth/refresh') return json(res, 200, authResponse('access-2', 'refresh-2'));
      if (req.headers.authorization !== 'Bearer access-2') return problem(res, 401, 'Unauthorized');
      return json(res, 200, { sessions: [] });
    });
    const replies = await Promise.all([1, 2, 3].map(() => client.api.listSessions()));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    const refreshes = api.received.filter((r) => r.url === '/auth/refresh');
    expect(refreshes.map((r) => JSON.parse(r.body) as unknown)).toEqual([
      { refreshToken: 'refresh-1' },
    ]);
    expect(client.tokens()).toEqual({ accessToken: 'access-2', refreshToken: 'refresh-2' });
  });

  test('when the refresh token is refused too, then the 401 is thrown and the tokens are gone', async () => {
    client.setTokens({ accessToken: 'expired', refreshToken: 'used-already' });
    api.handle((_req, res) => problem(res, 401, 'Unauthorized'));
    const error = (await client.api.listSessions().catch((e: unknown) => e)) as ProblemError;
    expect([error.status, error.request]).toEqual([401, 'GET /auth/sessions']);
    expect(api.received.map((r) => r.url)).toEqual(['/auth/sessions', '/auth/refresh']);
    expect(client.tokens()).toBeUndefined();
  });

  test('when the API answers 429 with Retry-After, then the client waits that long and tries again, within its bound', async () => {
    let answered = 0;
    api.handle((_req, res) =>
      ++answered === 1
        ? problem(res, 429, 'Too Many Requests', {}, { 'retry-after': '1' })
        : json(res, 200, plans),
    );
    const started = Date.now();
    const reply = await client.api.listPlans();
    expect(reply.attempts).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  test('when 503 lasts longer than the attempts allowed, then the last ProblemError is thrown with its Retry-After', async () => {
    api.handle((_req, res) => problem(res, 503, 'Service Unavailable', {}, { 'retry-after': '0' }));
    const error = (await client.api.listPlans().catch((e: unknown) => e)) as ProblemError;
    expect([error.status, error.attempts, error.retryAfterMs]).toEqual([503, 3, 0]);
    expect(api.received).toHaveLength(3);
  });

  test('when Retry-After asks for longer than the client may wait, then it is not waited for', async () => {
    api.handle((_req, res) => problem(res, 429, 'Too Many Requests', {}, { 'retry-after': '60' }));
    const error = (await client.api.listPlans().catch((e: unknown) => e)) as ProblemError;
    expect([error.status, error.attempts, error.retryAfterMs]).toEqual([429, 1, 60_000]);
  });

  test('when a payment is created, then one Idempotency-Key is made and kept over the retries', async () => {
    client.setTokens({ accessToken: 'access-1' });
    let answered = 0;
    api.handle((_req, res) =>
      ++answered === 1 ? problem(res, 503, 'Busy') : json(res, 201, payment()),
    );
    const created = await client.api.createPayment({ body: agentRequest });
    expect([created.status, created.body.id]).toEqual([201, paymentId]);
    const keys = api.received.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    await client.api.createPayment({ body: agentRequest }, { idempotencyKey: 'mine-1' });
    expect(api.received[2]!.headers['idempotency-key']).toBe('mine-1');
    api.handle((_req, res) => json(res, 200, authResponse('a', 'r')));
    await client.api.login({ body: { email: 'ada@example.com', password: 'pw' } });
    expect(api.received[3]!.headers['idempotency-key']).toBeUndefined();
  });

  test('when a profile is read and changed, then its ETag goes back as If-Match and a stale one is a 412', async () => {
    client.setTokens({ accessToken: 'access-1' });
    api.handle((req, res) => {
      if (req.method === 'GET') return json(res, 200, user(), { etag: '"3"' });
      if (req.headers['if-match'] !== '"3"') return problem(res, 412, 'Precondition Failed');
      return json(res, 200, { ...user(), displayName: 'Grace' }, { etag: '"4"' });
    });
    const read = await client.api.getUser({ params: { id: userId } });
    expect(read.etag).toBe('"3"');
    const changed = await client.api.updateUser({
      params: { id: userId },
      ifMatch: read.etag!,
      body: { displayName: 'Grace' },
    });
    expect([changed.body.displayName, changed.etag]).toEqual(['Grace', '"4"']);
    const stale = (await client.api
      .updateUser({ params: { id: userId }, ifMatch: '"1"', body: { displayName: 'Ada' } })
      .catch((e: unknown) => e)) as ProblemError;
    expect(stale.status).toBe(412);
  });

  test('when no answer comes within the timeout, then a TimeoutError ends the call', async () => {
    api.handle(() => undefined); // never answers
    const started = Date.now();
    const error = await client.api
      .listPlans(undefined, { timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('when the caller aborts, then the call ends at once with the abort and is not retried', async () => {
    api.handle(() => undefined);
    const controller = new AbortController();
    const call = client.api.listPlans(undefined, {
      signal: controller.signal,
      retry: { transport: true },
    });
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('when the connection is refused, then it is a NetworkError, tried again only when transport retries are on', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const retries: number[] = [];
    const refused = createClient({
      baseUrl: `http://127.0.0.1:${port}`,
      retry: { transport: true, attempts: 2, minDelayMs: 1, maxDelayMs: 2 },
      onRetry: (event) => retries.push(event.attempt),
    });
    const error = (await refused.api.listPlans().catch((e: unknown) => e)) as NetworkError;
    expect(error).toBeInstanceOf(NetworkError);
    expect([error.attempts, retries]).toEqual([2, [1]]);
  });

  test('when a success body is not what the contract says, then UnexpectedResponseError names it', async () => {
    api.handle((_req, res) => json(res, 200, { plans: [{ id: 42 }] }));
    await expect(client.api.listPlans()).rejects.toBeInstanceOf(UnexpectedResponseError);
  });

  test('when a raw call asks for a PDF or a stream, then the body is left to the caller and outlives the timeout', async () => {
    client.setTokens({ accessToken: 'access-1' });
    api.handle((req, res) => {
      if (req.url.endsWith('/invoice')) {
        res.writeHead(200, { 'content-type': 'application/pdf' }).end('%PDF-1.7 …');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': connected\n\n');
      // The second event comes after the call's 100 ms budget, once the first was read.
      streamed = res;
    });
    let streamed: http.ServerResponse | undefined;
    const pdf = await client.raw.getPaymentInvoice(
      { params: { id: paymentId } },
      { accept: 'application/pdf' },
    );
    expect(api.received[0]!.headers.accept).toBe('application/pdf');
    expect(new TextDecoder().decode(await pdf.response.arrayBuffer())).toMatch(/^%PDF-/);

    const stream = await client.api.notificationStream(
      { params: { id: userId } },
      { timeoutMs: 100 },
    );
    const reader = stream.body.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(': connected\n\n');
    const started = Date.now();
    const next = reader.read();
    const later = setTimeout(() => streamed!.end('event: notification\ndata: {}\n\n'), 300);
    expect(new TextDecoder().decode((await next).value)).toContain('event: notification');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    clearTimeout(later);
  });
});

/** Misuse the compiler refuses (`tsc` checks these lines; nothing runs them). */
export function compileTimeChecks(c: Client): void {
  // @ts-expect-error getAgent needs params.id
  void c.api.getAgent();
  // @ts-expect-error updateUser needs If-Match (its absence is a 428)
  void c.api.updateUser({ params: { id: userId }, body: {} });
  // @ts-expect-error the body is typed from the contract's schema
  void c.api.createPayment({ body: { plan: 1 } });
  // @ts-expect-error deployAgent answers 200 or 202, nothing else
  void c.api.deployAgent({ body: { paymentId } }).then((r) => r.status === 201);
  // verify answers only the gateway's auth_request: not a client operation
  // @ts-expect-error no such operation
  // eslint-disable-next-line @typescript-eslint/no-unsafe-call -- that it has no type is the point
  void c.api.verify();
}
