import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { type JourneyRecord, SCENARIOS, isPaid } from './journeys';

const run = promisify(execFile);

export interface CheckTargets {
  gatewayUrl: string;
  serviceUrls: Record<string, string>;
  paymentDatabaseUrl: string;
  brainDatabaseUrl: string;
  devinSandboxUrl: string;
  vhost: string;
}

const FINAL_EVENT = {
  finished: 'payment.confirmed',
  partially_paid: 'payment.partially-paid',
  failed: 'payment.failed',
} as const;

/** What the journeys themselves saw: each must have paid (or not) as its scenario says. */
export function journeyProblems(journeys: JourneyRecord[]): string[] {
  const problems: string[] = [];
  for (const j of journeys) {
    const expected = SCENARIOS[j.scenario].final;
    if (j.error) problems.push(`journey ${j.index} (${j.scenario}) failed: ${j.error}`);
    else if (j.finalStatus !== expected) {
      problems.push(
        `journey ${j.index} (${j.scenario}): payment ${j.paymentId} ended ${j.finalStatus}, expected ${expected}`,
      );
    }
  }
  return problems;
}

/**
 * The system's state once faults are over, from the event stores, the Devin sandbox and the
 * broker: every paid payment confirmed exactly once, one invoice, exactly one agent, deployed,
 * one Devin session per build attempt; nothing for the unpaid; every queue drained and every
 * dead-letter queue empty; every service answering a request that needs its database.
 * An empty list means the system has settled.
 */
export async function systemProblems(
  journeys: JourneyRecord[],
  targets: CheckTargets,
): Promise<string[]> {
  const results = await Promise.all([
    guard('payment event store', () => paymentProblems(journeys, targets.paymentDatabaseUrl)),
    guard('brain event store', () => brainProblems(journeys, targets)),
    guard('RabbitMQ queues', () => queueProblems(targets.vhost)),
    guard('services', () => serviceProblems(targets)),
  ]);
  return results.flat();
}

async function guard(what: string, check: () => Promise<string[]>): Promise<string[]> {
  try {
    return await check();
  } catch (error) {
    return [`${what} could not be checked: ${(error as Error).message}`];
  }
}

async function query<R>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    statement_timeout: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text, values)).rows as R[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

function countBy<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export async function paymentProblems(journeys: JourneyRecord[], url: string): Promise<string[]> {
  const rows = await query<{ id: string; type: string; n: number }>(
    url,
    `SELECT data->>'paymentId' AS id, event_type AS type, count(*)::int AS n FROM es_events
      WHERE event_type = ANY($1) GROUP BY 1, 2`,
    [['payment.confirmed', 'payment.invoice-issued', 'payment.partially-paid', 'payment.failed']],
  );
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(`${r.id} ${r.type}`, r.n);
  const n = (id: string, type: string) => counts.get(`${id} ${type}`) ?? 0;
  const problems: string[] = [];
  const paidIds = new Set<string>();
  for (const j of journeys) {
    if (!j.paymentId) continue;
    const id = j.paymentId;
    const expected = SCENARIOS[j.scenario].final;
    if (isPaid(j.scenario)) {
      paidIds.add(id);
      if (n(id, 'payment.confirmed') !== 1) {
        problems.push(`paid ${id} (${j.scenario}): confirmed ${n(id, 'payment.confirmed')} times`);
      }
      if (n(id, 'payment.invoice-issued') !== 1) {
        problems.push(`paid ${id}: ${n(id, 'payment.invoice-issued')} invoices`);
      }
    } else {
      if (n(id, FINAL_EVENT[expected]) !== 1) {
        problems.push(
          `unpaid ${id} (${j.scenario}): ${FINAL_EVENT[expected]} recorded ${n(id, FINAL_EVENT[expected])} times`,
        );
      }
      for (const type of ['payment.confirmed', 'payment.invoice-issued']) {
        if (n(id, type) !== 0) problems.push(`unpaid ${id} (${j.scenario}): ${type} recorded`);
      }
    }
  }
  for (const r of rows) {
    if (r.type === 'payment.confirmed' && !paidIds.has(r.id)) {
      problems.push(`payment ${r.id}, which no paid journey made, was confirmed`);
    }
  }
  return problems;
}

interface BrainRow {
  stream: string;
  type: string;
  payment: string | null;
  session: string | null;
  build: string | null;
  attempt: string | null;
}

export async function brainProblems(
  journeys: JourneyRecord[],
  targets: Pick<CheckTargets, 'brainDatabaseUrl' | 'devinSandboxUrl'>,
): Promise<string[]> {
  const rows = await query<BrainRow>(
    targets.brainDatabaseUrl,
    `SELECT stream_id AS stream, event_type AS type, data->>'paymentId' AS payment,
            data->>'sessionId' AS session, data->>'build' AS build, data->>'attempt' AS attempt
       FROM es_events WHERE event_type = ANY($1) ORDER BY global_position`,
    [['agent.deploy-requested', 'agent.session-started', 'agent.deployed', 'agent.deploy-failed']],
  );
  const problems: string[] = [];
  const agentsOf = new Map<string, string[]>();
  const deployed = new Map<string, number>();
  const failed = new Map<string, number>();
  const starts = new Map<string, number>();
  for (const r of rows) {
    if (r.type === 'agent.deploy-requested' && r.payment) {
      agentsOf.set(r.payment, [...(agentsOf.get(r.payment) ?? []), r.stream]);
    } else if (r.type === 'agent.deployed') countBy(deployed, r.stream);
    else if (r.type === 'agent.deploy-failed') countBy(failed, r.stream);
    else if (r.type === 'agent.session-started') {
      countBy(starts, `${r.stream} build ${r.build} attempt ${r.attempt}`);
    }
  }
  const paidIds = new Set<string>();
  for (const j of journeys) {
    if (!j.paymentId) continue;
    const agents = agentsOf.get(j.paymentId) ?? [];
    if (!isPaid(j.scenario)) {
      if (agents.length) problems.push(`unpaid ${j.paymentId} (${j.scenario}) has an agent`);
      continue;
    }
    paidIds.add(j.paymentId);
    if (agents.length !== 1) {
      problems.push(`paid ${j.paymentId}: ${agents.length} agents`);
      continue;
    }
    const agent = agents[0]!;
    if ((failed.get(agent) ?? 0) > 0) problems.push(`${agent}: a build attempt failed`);
    if ((deployed.get(agent) ?? 0) !== 1) {
      problems.push(
        `${agent} (payment ${j.paymentId}): deployed ${deployed.get(agent) ?? 0} times`,
      );
    }
  }
  for (const [payment] of agentsOf) {
    if (!paidIds.has(payment))
      problems.push(`payment ${payment}, not a paid journey's, has an agent`);
  }
  for (const [key, n] of starts) {
    if (n > 1) problems.push(`${key}: agent.session-started recorded ${n} times`);
  }
  problems.push(...(await devinProblems(targets.devinSandboxUrl)));
  return problems;
}

/** The Devin sandbox's own record: one session per agent, build and attempt. */
async function devinProblems(url: string): Promise<string[]> {
  const res = await fetch(`${url}/sandbox/sessions`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) return [`Devin sandbox answered ${res.status} to GET /sandbox/sessions`];
  const { sessions } = (await res.json()) as { sessions: { session_id: string; tags: string[] }[] };
  const perAttempt = new Map<string, string[]>();
  for (const s of sessions) {
    const tag = (prefix: string) => s.tags.find((t) => t.startsWith(prefix)) ?? `${prefix}?`;
    const key = `${tag('agent:')} ${tag('build:')} ${tag('attempt:')}`;
    perAttempt.set(key, [...(perAttempt.get(key) ?? []), s.session_id]);
  }
  return [...perAttempt]
    .filter(([, ids]) => ids.length > 1)
    .map(([key, ids]) => `Devin sessions started twice for ${key}: ${ids.join(', ')}`);
}

/**
 * What our webhook answered NOWPayments, from the sandbox's delivery record: while a fault lasts
 * it may refuse (502/503/504, 429) and NOWPayments resends; any other refusal (a 500, a 4xx) is
 * a problem. An IPN never delivered after all its attempts is covered by the store checks (the
 * reconciler must have caught its status).
 */
export async function webhookProblems(nowPaymentsSandboxUrl: string): Promise<string[]> {
  const res = await fetch(`${nowPaymentsSandboxUrl}/sandbox/ipns`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) return [`NOWPayments sandbox answered ${res.status} to GET /sandbox/ipns`];
  const { deliveries } = (await res.json()) as {
    deliveries: { attempts: { statusCode: number | null; response: string | null }[] }[];
  };
  const refused = new Map<number, { n: number; example: string }>();
  for (const attempt of deliveries.flatMap((d) => d.attempts)) {
    const code = attempt.statusCode;
    if (code === null || code < 300 || [429, 502, 503, 504].includes(code)) continue;
    const seen = refused.get(code) ?? { n: 0, example: (attempt.response ?? '').slice(0, 200) };
    seen.n++;
    refused.set(code, seen);
  }
  return [...refused].map(
    ([code, { n, example }]) =>
      `the webhook answered ${code} to ${n} IPN attempts, e.g. ${example}`,
  );
}

/** Parked messages are problems; messages still queued mean the system has not settled. */
async function queueProblems(vhost: string): Promise<string[]> {
  const { stdout } = await run(
    'rabbitmqctl',
    ['list_queues', '-p', vhost, 'name', 'messages', '--formatter', 'json', '--quiet'],
    { timeout: 30_000 },
  );
  const queues = JSON.parse(stdout) as { name: string; messages: number }[];
  if (queues.length === 0)
    return ['no queue in the run’s vhost: the consumers never declared them'];
  return queues
    .filter((q) => q.messages > 0)
    .map((q) =>
      q.name.endsWith('.dlq')
        ? `dead-letter queue ${q.name} holds ${q.messages} messages`
        : `queue ${q.name} still holds ${q.messages} messages`,
    );
}

/** Each service answers, through the gateway, a request that needs its own database. */
async function serviceProblems(targets: CheckTargets): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, url] of Object.entries(targets.serviceUrls)) {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(
      (e: Error) => e,
    );
    if (res instanceof Error || res.status !== 200) {
      problems.push(`${name} /readyz: ${res instanceof Error ? res.message : res.status}`);
    }
  }
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(`${targets.gatewayUrl}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(5_000),
    });
    const answer: unknown = await res.json().catch(() => null);
    return { status: res.status, body: answer };
  };
  try {
    const email = `chaos-check+${randomUUID().slice(0, 12)}@example.com`;
    const password = `check ${randomUUID()}`;
    const reg = await call('POST', '/auth/register', { email, password, displayName: 'Check' });
    if (reg.status !== 201) return [...problems, `user-service: register answered ${reg.status}`];
    const login = await call('POST', '/auth/login', { email, password });
    if (login.status !== 200) return [...problems, `user-service: login answered ${login.status}`];
    const token = (login.body as { accessToken: string }).accessToken;
    const payments = await call('GET', '/payments', undefined, token);
    if (payments.status !== 200)
      problems.push(`payment-service: GET /payments answered ${payments.status}`);
    const agents = await call('GET', '/agents', undefined, token);
    if (agents.status !== 200)
      problems.push(`brain-service: GET /agents answered ${agents.status}`);
  } catch (error) {
    problems.push(`a request through the gateway failed: ${(error as Error).message}`);
  }
  return problems;
}
