import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  type EndpointDef,
  ProblemSchema,
  brainEndpoints,
  brainOpenApi,
  paymentEndpoints,
  paymentOpenApi,
  userEndpoints,
  userOpenApi,
} from '@meetmatt/contracts';
import { type FuzzSystem, type ServiceKey, serviceKeys, startFuzzSystem } from './fuzz-system';
import {
  type Fixture,
  type FuzzRequest,
  type Operation,
  baseBody,
  operationsOf,
  requestArb,
  systematicRequests,
} from './requests';
import { eventually } from '@meetmatt/infra/testing';
import { sleep } from '@meetmatt/infra/runtime/backoff';

/**
 * Property-based fuzzing of every operation in the three services' OpenAPI documents (generated
 * from the contracts' zod schemas), against the real services on real PostgreSQL and RabbitMQ
 * with the provider sandboxes. For each request, valid or hostile: no 5xx, every 4xx is
 * application/problem+json, and a refused request leaves every event store where it was (and
 * no password or API-key secret row behind).
 *
 * Bounded: FUZZ_RUNS random requests per operation (default 12) and the systematic ones, some
 * 1,600 requests (125 s on a busy two-core machine). FUZZ_SEED replays a run; FUZZ_REPORT=<file>
 * writes every violation as JSON.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const REQUEST_TIMEOUT_MS = 15_000;

const documents: Record<ServiceKey, Record<string, unknown>> = {
  user: userOpenApi(),
  payment: paymentOpenApi(),
  brain: brainOpenApi(),
};
const operations: Operation[] = serviceKeys.flatMap((key) => operationsOf(key, documents[key]));
/** The zod definitions behind the documents, by operation id: they judge what is valid. */
const contracts = new Map<string, EndpointDef>(
  [
    ...Object.values<EndpointDef>(userEndpoints),
    ...Object.values<EndpointDef>(paymentEndpoints),
    ...Object.values<EndpointDef>(brainEndpoints),
  ].map((e) => [e.operationId, e]),
);

/**
 * Refusals that record something by design, and only this: reusing a refresh token already
 * traded is answered 401 and ends the session it belonged to (ARCHITECTURE.md, Auth).
 */
const recordedByDesign: Record<string, { service: ServiceKey; types: string[] }> = {
  refresh: { service: 'user', types: ['user.session-revoked'] },
};

interface Violation {
  service: ServiceKey;
  operation: string;
  rule: string;
  request: {
    method: string;
    target: string;
    headers: Record<string, string>;
    body?: string;
    kind: string;
  };
  status: number;
  response: string;
  stack?: string;
}

interface Tally {
  requests: number;
  statuses: Record<string, number>;
  /** The first answer of each status, for the report. */
  samples: Record<string, string>;
}
const tally = new Map<string, Tally>();
const violations: Violation[] = [];

let system: FuzzSystem;
let fixture: Fixture;

const clip = (text: string, max = 400) =>
  text.length > max ? `${text.slice(0, max)}…(${text.length})` : text;

async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, body: body as Record<string, unknown>, headers: res.headers };
}

/** Operations whose acceptance sets work going elsewhere: IPNs, deploys, builds, refunds. */
const startsWork = new Set([
  'createPayment',
  'nowpaymentsWebhook',
  'deployAgent',
  'rebuildAgent',
  'requestRefund',
  'completeRefund',
]);

/**
 * Waits until no store has moved for `quietMs`: what an accepted request set going has
 * finished, so a store that moves during the next refused request moved because of it.
 */
async function settle(quietMs: number, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  let last = JSON.stringify(await system.heads());
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() - started > timeoutMs) {
      process.stdout.write(`fuzz: the stores did not settle within ${timeoutMs} ms\n`);
      return;
    }
    await sleep(50);
    const now = JSON.stringify(await system.heads());
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
  if (process.env.FUZZ_DEBUG && Date.now() - started > 1_000)
    process.stdout.write(`fuzz: settled after ${Date.now() - started} ms\n`);
}

async function register(email: string, password: string) {
  const res = await call(system.urls.user, 'POST', '/auth/register', {
    body: { email, password, displayName: 'Fuzz tester' },
  });
  if (res.status !== 201)
    throw new Error(`register answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as { user: { id: string }; accessToken: string; refreshToken: string };
}

async function makeFixture(): Promise<Fixture> {
  const password = `pw-${randomUUID()}`;
  const emails = [
    `fuzz.${randomUUID().slice(0, 8)}@example.com`,
    `fuzz.${randomUUID().slice(0, 8)}@example.com`,
  ];
  const main = await register(emails[0]!, password);
  const other = await register(emails[1]!, password);
  // An operator: registered like anyone, made admin the one way there is, then signed in.
  const operatorEmail = `fuzz.ops.${randomUUID().slice(0, 8)}@example.com`;
  const operator = await register(operatorEmail, password);
  await system.grantAdmin(operator.user.id);
  const operatorLogin = await call(system.urls.user, 'POST', '/auth/login', {
    body: { email: operatorEmail, password },
  });
  if (operatorLogin.status !== 200)
    throw new Error(
      `operator login answered ${operatorLogin.status}: ${JSON.stringify(operatorLogin.body)}`,
    );
  const spare = [{ accessToken: other.accessToken, refreshToken: other.refreshToken }];
  for (let i = 0; i < 4; i += 1) {
    const res = await call(system.urls.user, 'POST', '/auth/login', {
      body: { email: emails[1], password },
    });
    if (res.status === 200) spare.push(res.body as { accessToken: string; refreshToken: string });
  }
  const sessions = await call(system.urls.user, 'GET', '/auth/sessions', {
    token: other.accessToken,
  });
  const sessionIds = ((sessions.body as { sessions?: { id: string }[] }).sessions ?? []).map(
    (s) => s.id,
  );

  const plansRes = await call(system.urls.payment, 'GET', '/payments/plans');
  const plans = ((plansRes.body as { plans?: { id: string }[] }).plans ?? []).map((p) => p.id);
  const created = await call(system.urls.payment, 'POST', '/payments/create', {
    token: main.accessToken,
    body: {
      plan: plans[0] ?? 'starter',
      payCurrency: 'btc',
      agent: { name: 'Fuzz agent', instructions: 'Answer questions from the docs' },
    },
  });
  if (created.status !== 201)
    throw new Error(`create payment answered ${created.status}: ${JSON.stringify(created.body)}`);
  const payment = created.body as { id: string; providerPaymentId: string };
  const agent = await eventually(
    'the paid agent to be deployed',
    async () => {
      const res = await call(system.urls.brain, 'GET', '/agents', { token: main.accessToken });
      const item = (res.body as { items?: { id: string; status: string }[] }).items?.[0];
      return item?.status === 'deployed' && item;
    },
    60_000,
  );
  const key = await call(system.urls.user, 'POST', `/users/${main.user.id}/api-keys`, {
    token: main.accessToken,
    body: { name: 'fuzz key' },
  });
  const notification = await eventually(
    'a notification',
    async () => {
      const res = await call(system.urls.user, 'GET', `/users/${main.user.id}/notifications`, {
        token: main.accessToken,
      });
      return (res.body as { notifications?: { id: string }[] }).notifications?.[0] ?? false;
    },
    15_000,
  ).catch(() => ({ id: randomUUID() }));
  const pageOne = await call(system.urls.payment, 'GET', '/payments?limit=1', {
    token: main.accessToken,
  });
  const agentsOne = await call(system.urls.brain, 'GET', '/agents?limit=1', {
    token: main.accessToken,
  });
  const cursors = [pageOne.body.nextCursor, agentsOne.body.nextCursor].filter(
    (c): c is string => typeof c === 'string',
  );
  return {
    userId: main.user.id,
    otherUserId: other.user.id,
    paymentId: payment.id,
    providerPaymentId: String(payment.providerPaymentId),
    agentId: agent.id,
    apiKeyId: (key.body as { id: string }).id,
    apiKey: (key.body as { key: string }).key,
    notificationId: notification.id,
    sessionIds: sessionIds.length ? sessionIds : [randomUUID()],
    plans: plans.length ? plans : ['starter'],
    emails,
    password,
    token: main.accessToken,
    adminToken: (operatorLogin.body as { accessToken: string }).accessToken,
    spareTokens: spare.map((s) => s.accessToken),
    spareRefreshTokens: spare.map((s) => s.refreshToken),
    otherToken: other.accessToken,
    cursors: cursors.length ? cursors : ['MjAyNC0wMS0wMQ'],
    gatewaySecret: system.gatewaySecret,
    freshEmail: () => `fuzz.${randomUUID()}@example.com`,
    signIpn: (body) => system.signIpn(body),
  };
}

/** Sends one request; an SSE stream is closed as soon as its headers arrive. */
async function send(
  op: Operation,
  request: FuzzRequest,
  requestId: string,
): Promise<{ status: number; contentType: string; text: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(`${system.urls[op.service]}${request.target}`, {
      method: request.method,
      headers: { ...request.headers, 'x-request-id': requestId },
      ...(request.body !== undefined ? { body: Buffer.from(request.body, 'utf8') } : {}),
      signal: controller.signal,
      redirect: 'manual',
    });
    const contentType = res.headers.get('content-type') ?? '';
    if (contentType.startsWith('text/event-stream')) {
      controller.abort();
      return { status: res.status, contentType, text: '' };
    }
    return { status: res.status, contentType, text: await res.text() };
  } finally {
    clearTimeout(timer);
  }
}

function record(op: Operation, request: FuzzRequest, status: number, text: string): void {
  const key = `${op.service} ${op.method.toUpperCase()} ${op.path}`;
  const entry = tally.get(key) ?? { requests: 0, statuses: {}, samples: {} };
  entry.requests += 1;
  entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
  entry.samples[status] ??=
    `${request.kind}: ${request.method} ${clip(request.target, 120)} -> ${clip(text, 200)}`;
  tally.set(key, entry);
}

/** One request through the three rules; what breaks them is kept, not thrown, so a run reports all. */
async function check(op: Operation, request: FuzzRequest): Promise<Violation[]> {
  const requestId = `fuzz-${randomUUID()}`;
  const before = await system.heads();
  const credentialsBefore = await system.credentialRows();
  let answer: { status: number; contentType: string; text: string };
  const sent = Date.now();
  try {
    answer = await send(op, request, requestId);
  } catch (error) {
    answer = { status: 0, contentType: '', text: `no answer: ${(error as Error).message}` };
  }
  if (process.env.FUZZ_DEBUG && Date.now() - sent > 500)
    process.stdout.write(
      `fuzz: ${Date.now() - sent} ms for ${request.method} ${clip(request.target, 80)} (${answer.status}, ${request.kind})\n`,
    );
  record(op, request, answer.status, answer.text);
  const found: Violation[] = [];
  const violation = (rule: string, extra: Partial<Violation> = {}): Violation => ({
    service: op.service,
    operation: `${op.method.toUpperCase()} ${op.path}`,
    rule,
    request: {
      ...request,
      target: clip(request.target, 300),
      headers: Object.fromEntries(
        Object.entries(request.headers).map(([k, v]) => [k, clip(v, 80)]),
      ),
      ...(request.body !== undefined ? { body: clip(request.body, 600) } : {}),
    },
    status: answer.status,
    response: clip(answer.text, 600),
    ...extra,
  });
  const { status } = answer;
  if (status === 0) found.push(violation('no answer within the timeout'));
  if (status >= 500) {
    const stack = system.errorOf(op.service, requestId);
    found.push(violation('5xx', stack ? { stack: clip(stack, 1500) } : {}));
  }
  if (status >= 400 && status < 500) {
    const problem = answer.contentType.startsWith('application/problem+json')
      ? ProblemSchema.safeParse(safeJson(answer.text))
      : undefined;
    if (!problem?.success || problem.data.status !== status)
      found.push(violation(`4xx not problem+json (${answer.contentType || 'no content type'})`));
  }
  const after = await system.heads();
  if (status >= 400 || status === 0) {
    const credentialsAfter = await system.credentialRows();
    if (credentialsAfter !== credentialsBefore)
      found.push(
        violation(
          `refused request left credential rows behind (${credentialsBefore} → ${credentialsAfter})`,
        ),
      );
    const allowed = status === 401 ? recordedByDesign[op.operationId] : undefined;
    for (const key of serviceKeys) {
      if (after[key] !== before[key]) {
        const events = await system.eventsAfter(key, before[key]);
        if (allowed?.service === key && events.every((e) => allowed.types.includes(e.type)))
          continue;
        found.push(
          violation(`refused request appended to the ${key} event store`, {
            stack: events.map((e) => `${e.type} ${e.stream}`).join('\n'),
          }),
        );
      }
    }
  } else if (serviceKeys.some((key) => after[key] !== before[key])) {
    // What an accepted request appended may set more going (relay, consumers, sandboxes).
    await settle(startsWork.has(op.operationId) ? 300 : 100);
  }
  return found;
}

/**
 * A conditional write (If-Match) gets the resource's current ETag, so the odd value it carries
 * meets the write itself rather than a 428 or 412 in front of it.
 */
async function withCurrentEtag(op: Operation, request: FuzzRequest): Promise<FuzzRequest> {
  const conditional = op.parameters.some(
    (p) => p.in === 'header' && p.name.toLowerCase() === 'if-match',
  );
  if (!conditional) return request;
  const path = request.target.split('?')[0]!;
  const res = await fetch(`${system.urls[op.service]}${path}`, {
    headers: request.headers.Authorization ? { authorization: request.headers.Authorization } : {},
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  }).catch(() => undefined);
  await res?.text();
  const etag = res?.headers.get('etag');
  return etag ? { ...request, headers: { ...request.headers, 'If-Match': etag } } : request;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

describe('fuzzing every endpoint of the three services', () => {
  beforeAll(async () => {
    system = await startFuzzSystem();
    fixture = await makeFixture();
    await settle(1_000);
  }, 120_000);

  afterAll(async () => {
    const requests = [...tally.values()].reduce((n, t) => n + t.requests, 0);
    const fiveHundreds = [...tally.values()].reduce(
      (n, t) =>
        n +
        Object.entries(t.statuses)
          .filter(([s]) => Number(s) >= 500)
          .reduce((m, [, c]) => m + c, 0),
      0,
    );
    const lines = [
      `fuzz: seed ${SEED}, ${RUNS} runs per operation, ${operations.length} operations, ${requests} requests, ${fiveHundreds} answered 5xx, ${violations.length} violations`,
      ...[...tally.entries()].map(
        ([key, t]) =>
          `  ${key.padEnd(48)} ${String(t.requests).padStart(4)}  ${Object.entries(t.statuses)
            .map(([s, c]) => `${s}×${c}`)
            .join(' ')}`,
      ),
      ...violations.map(
        (v) =>
          `  VIOLATION ${v.service} ${v.operation}: ${v.rule}; ${v.status}; ${v.request.kind}; ${v.request.method} ${v.request.target}${v.request.body ? ` body ${clip(v.request.body, 160)}` : ''}`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (process.env.FUZZ_REPORT)
      writeFileSync(
        process.env.FUZZ_REPORT,
        JSON.stringify({ seed: SEED, tally: Object.fromEntries(tally), violations }, null, 2),
      );
    await system?.stop();
  }, 60_000);

  test('when the services run, then each serves the OpenAPI document the contracts generate, so the operations fuzzed are all of them', async () => {
    for (const key of serviceKeys) {
      const served = await call(system.urls[key], 'GET', '/openapi.json');
      expect(served.status).toBe(200);
      expect(Object.keys(served.body.paths as object).sort()).toEqual(
        Object.keys(documents[key].paths as object).sort(),
      );
    }
    expect(operations.length).toBeGreaterThan(30);
  });

  operations.forEach((op, index) => {
    test(`when ${op.method.toUpperCase()} ${op.path} (${op.service}) gets valid, boundary and hostile input, then no 5xx, every 4xx is problem+json and a refused request appends no event`, async () => {
      const found: Violation[] = [];
      const seed = SEED + index;
      await fc.assert(
        fc.asyncProperty(requestArb(op, fixture), async (request) => {
          found.push(...(await check(op, request)));
        }),
        { numRuns: RUNS, seed, endOnFailure: true },
      );
      const schema = contracts.get(op.operationId)?.body;
      const base = baseBody(op, fixture, (v) => schema?.safeParse(v).success ?? false, seed);
      for (const request of systematicRequests(op, fixture, base))
        found.push(...(await check(op, await withCurrentEtag(op, request))));
      violations.push(...found);
      expect(
        found.map(
          (v) =>
            `${v.rule}: ${v.status} for ${v.request.kind}: ${v.request.method} ${v.request.target} ${v.request.body ?? ''}\n${v.response}\n${v.stack ?? ''}`,
        ),
      ).toEqual([]);
    }, 300_000);
  });
});
