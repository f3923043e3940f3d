import { randomUUID } from 'node:crypto';
import { type z } from 'zod';
import {
  AgentDetailSchema,
  AuthResponseSchema,
  CreatePaymentResponseSchema,
  InvoiceSchema,
  PaymentStatusResponseSchema,
  UsageSchema,
  pageOf,
  AgentSummarySchema,
  NotificationSchema,
} from '@meetmatt/contracts';
import { sleep } from '@meetmatt/infra/runtime/backoff';
import { pollUntil } from '@meetmatt/infra/runtime/poll';
import { z as zod } from 'zod';

/** One call the journey made and what came back, for the narrator. */
export interface Step {
  title: string;
  request: string;
  status: number;
  summary: string;
}

export interface JourneyOptions {
  /** The gateway: the one URL of the system. */
  baseUrl: string;
  /** Told each step as it happens (the demo prints it; tests collect it). */
  onStep?: (step: Step) => void;
  /** How long to wait for the payment and the deployment to play out. */
  timeoutMs?: number;
  /** Told each time a call is tried again (a 502/503/504 or a dropped connection). */
  onRetry?: (request: string, status: number | undefined) => void;
  /** The journey's correlation id (sent as X-Request-Id on the purchase). */
  correlationId?: string;
  /** The HTTP client (the end-to-end test passes one that checks each answer against /openapi.json). */
  fetch?: typeof fetch;
}

export interface JourneyResult {
  correlationId: string;
  userId: string;
  email: string;
  accessToken: string;
  paymentId: string;
  invoiceNumber: string;
  agentId: string;
  pullRequestUrl: string;
  notifications: z.infer<typeof NotificationSchema>[];
  usage: z.infer<typeof UsageSchema>;
  steps: Step[];
}

const AgentPageSchema = pageOf(AgentSummarySchema, 'AgentPage');
const NotificationListSchema = zod.object({
  notifications: zod.array(NotificationSchema),
  unread: zod.number(),
});

class JourneyError extends Error {}

/** Attempts per call when the gateway answers 502/503/504 or the connection drops. */
const RETRIES = 5;

/**
 * The customer's whole journey through the gateway, as the web app would walk it: sign up, sign
 * in, buy an agent with crypto, wait for NOWPayments to finish, read the invoice, wait for Devin
 * to deploy the agent, read the notifications and the usage.
 */
export async function runJourney(options: JourneyOptions): Promise<JourneyResult> {
  const steps: Step[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const correlationId = options.correlationId ?? `journey-${randomUUID()}`;
  let token = '';

  const call = async <S extends z.ZodType>(
    title: string,
    method: string,
    path: string,
    schema: S | undefined,
    init: {
      body?: unknown;
      headers?: Record<string, string>;
      expect?: number[];
      /** Also accepted when an earlier attempt's answer was lost (it may have got through). */
      afterRetry?: number[];
      quiet?: boolean;
    } = {},
  ): Promise<{ status: number; body: z.infer<S> }> => {
    let retried = false;
    // As the web app would: a 502/503/504 or a dropped connection (an instance of a service
    // stopped mid-request; another serves the retry) is tried again, a few times, with backoff.
    let res: Response | undefined;
    for (let attempt = 1; ; attempt++) {
      res = undefined;
      try {
        res = await (options.fetch ?? fetch)(`${options.baseUrl}${path}`, {
          method,
          headers: {
            accept: 'application/json',
            ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...init.headers,
          },
          ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        });
        if (![502, 503, 504].includes(res.status) || attempt === RETRIES) break;
        await res.arrayBuffer();
      } catch (error) {
        if (attempt === RETRIES) throw error;
      }
      options.onRetry?.(`${method} ${path}`, res?.status);
      retried = true;
      await sleep(250 * 2 ** attempt);
    }
    const text = await res.text();
    const expected = [
      ...(init.expect ?? [200, 201, 202]),
      ...(retried ? (init.afterRetry ?? []) : []),
    ];
    if (!expected.includes(res.status)) {
      throw new JourneyError(
        `${title}: ${method} ${path} answered ${res.status} ${text.slice(0, 300)}`,
      );
    }
    const json: unknown = text ? JSON.parse(text) : undefined;
    const body = (schema ? schema.parse(json) : json) as z.infer<S>;
    if (!init.quiet) {
      const step = {
        title,
        request: `${method} ${path}`,
        status: res.status,
        summary: summarize(json),
      };
      steps.push(step);
      options.onStep?.(step);
    }
    return { status: res.status, body };
  };

  // Pauses grow from 100 ms to 1 s: quick on a fast system, gentle on a slow one.
  const poll = async <T>(what: string, probe: () => Promise<T | false>): Promise<T> => {
    const polled = await pollUntil(probe, {
      timeoutMs: deadline - Date.now(),
      intervalMs: 100,
      maxIntervalMs: 1_000,
    });
    if (!polled.passed) throw new JourneyError(`timed out waiting for ${what}`);
    return polled.value;
  };

  const email = `ada+${randomUUID().slice(0, 8)}@example.com`;
  const password = `correct horse ${randomUUID()}`;
  // 409 after a retry: the lost attempt registered the address; signing in proves it was ours.
  await call('Sign up', 'POST', '/auth/register', undefined, {
    body: { email, password, displayName: 'Ada Lovelace' },
    expect: [201],
    afterRetry: [409],
  });
  const login = await call('Sign in', 'POST', '/auth/login', AuthResponseSchema, {
    body: { email, password },
  });
  token = login.body.accessToken;
  const userId = login.body.user.id;

  const created = await call(
    'Buy a starter agent, paying in BTC',
    'POST',
    '/payments/create',
    CreatePaymentResponseSchema,
    {
      headers: { 'x-request-id': correlationId, 'idempotency-key': randomUUID() },
      body: {
        plan: 'starter',
        payCurrency: 'btc',
        agent: {
          name: 'Matt the support agent',
          instructions: 'Answer support emails politely and open tickets.',
        },
        autoDeploy: true,
      },
    },
  );
  const paymentId = created.body.id;

  await poll('the payment to finish', async () => {
    const { body } = await call(
      'Payment status',
      'GET',
      `/payments/${paymentId}/status`,
      PaymentStatusResponseSchema,
      {
        quiet: true,
      },
    );
    if (['failed', 'expired', 'partially_paid', 'refunded'].includes(body.status)) {
      throw new JourneyError(`the payment ended ${body.status}`);
    }
    return body.status === 'finished' ? body : false;
  });
  await call(
    'Payment finished',
    'GET',
    `/payments/${paymentId}/status`,
    PaymentStatusResponseSchema,
  );

  const invoice = await poll('the invoice', async () => {
    const { status, body } = await call(
      'Invoice',
      'GET',
      `/payments/${paymentId}/invoice`,
      undefined,
      {
        expect: [200, 404, 409],
        quiet: true,
      },
    );
    return status === 200 ? InvoiceSchema.parse(body) : false;
  });
  await call('Invoice issued', 'GET', `/payments/${paymentId}/invoice`, InvoiceSchema);

  const agent = await poll('the agent to be deployed', async () => {
    const { body } = await call('Agents', 'GET', '/agents?limit=20', AgentPageSchema, {
      quiet: true,
    });
    const mine = body.items.find((a) => a.paymentId === paymentId);
    if (mine?.status === 'failed') throw new JourneyError('the deployment failed');
    return mine?.status === 'deployed' ? mine : false;
  });
  const detail = await call('The deployed agent', 'GET', `/agents/${agent.id}`, AgentDetailSchema);

  const notifications = await poll('both notifications', async () => {
    const { body } = await call(
      'Notifications',
      'GET',
      `/users/${userId}/notifications`,
      NotificationListSchema,
      {
        quiet: true,
      },
    );
    const kinds = new Set(body.notifications.map((n) => n.kind));
    return kinds.has('payment.confirmed') && kinds.has('agent.deployed')
      ? body.notifications
      : false;
  });
  await call('Notifications', 'GET', `/users/${userId}/notifications`, NotificationListSchema);

  const usage = await poll('usage to count the payment and the agent', async () => {
    const { body } = await call('Usage', 'GET', `/users/${userId}/usage`, UsageSchema, {
      quiet: true,
    });
    return body.payments.confirmed >= 1 && body.agents.deployed >= 1 ? body : false;
  });
  await call('Usage', 'GET', `/users/${userId}/usage`, UsageSchema);

  return {
    correlationId,
    userId,
    email,
    accessToken: token,
    paymentId,
    invoiceNumber: invoice.number,
    agentId: agent.id,
    pullRequestUrl: detail.body.pullRequestUrl ?? '',
    notifications,
    usage,
    steps,
  };
}

function summarize(json: unknown): string {
  if (json === undefined || json === null) return '';
  if (typeof json !== 'object') return JSON.stringify(json);
  const record = json as Record<string, unknown>;
  const pick = (keys: string[]) =>
    keys
      .filter((k) => record[k] !== undefined && record[k] !== null)
      .map((k) => `${k}=${typeof record[k] === 'string' ? record[k] : JSON.stringify(record[k])}`)
      .join(' ');
  if ('user' in record && 'accessToken' in record) {
    const user = record.user as Record<string, unknown>;
    return `user ${String(user.id)} (${String(user.email)}), access token ${String(record.accessToken).slice(0, 16)}…`;
  }
  if ('notifications' in record) {
    const list = record.notifications as { kind: string; title: string }[];
    return list.map((n) => `${n.kind}: ${n.title}`).join('; ');
  }
  if ('apiRequests' in record) {
    const u = record as {
      apiRequests: { total: number };
      payments: { confirmed: number };
      agents: { deployed: number };
    };
    return `API requests ${u.apiRequests.total}, payments confirmed ${u.payments.confirmed}, agents deployed ${u.agents.deployed}`;
  }
  return pick([
    'id',
    'status',
    'number',
    'payAmount',
    'payCurrency',
    'payAddress',
    'amount',
    'currency',
    'name',
    'repository',
    'pullRequestUrl',
    'sessionUrl',
  ]);
}
