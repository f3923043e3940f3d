import { randomUUID } from 'node:crypto';
import { type Client, ProblemError, createClient } from '@meetmatt/client';
import { type NotificationSchema, type UsageSchema } from '@meetmatt/contracts';
import { pollUntil } from '@meetmatt/infra/runtime/poll';
import { type z } from 'zod';

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
  /** Told each time a call is tried again (a 429/502/503/504, a dropped connection, a timeout). */
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
  password: string;
  accessToken: string;
  refreshToken: string;
  paymentId: string;
  invoiceNumber: string;
  agentId: string;
  pullRequestUrl: string;
  notifications: z.infer<typeof NotificationSchema>[];
  usage: z.infer<typeof UsageSchema>;
  steps: Step[];
}

class JourneyError extends Error {}

/**
 * What the web app does with a call that got no answer or a passing failure: tries it again a
 * few times with backoff, after Retry-After when given (an instance of a service stopped
 * mid-request; another serves the retry). A payment keeps its Idempotency-Key over the retries.
 */
const RETRY = {
  attempts: 5,
  statuses: [429, 502, 503, 504],
  transport: true,
  minDelayMs: 250,
  maxDelayMs: 4_000,
};

/** A client of the gateway as the journey uses it: the typed client, retrying as the web app would. */
export function journeyClient(
  options: Pick<JourneyOptions, 'baseUrl' | 'onRetry' | 'fetch'>,
): Client {
  return createClient({
    baseUrl: options.baseUrl,
    retry: RETRY,
    ...(options.onRetry
      ? { onRetry: (event) => options.onRetry!(event.request, event.status) }
      : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/**
 * The customer's whole journey through the gateway, as the web app would walk it, with the typed
 * client (@meetmatt/client): sign up, sign in, name the account (If-Match with the profile's
 * ETag), buy an agent with crypto, wait for NOWPayments to finish, read the invoice, wait for
 * Devin to deploy the agent, read the notifications and the usage.
 */
export async function runJourney(options: JourneyOptions): Promise<JourneyResult> {
  const steps: Step[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const correlationId = options.correlationId ?? `journey-${randomUUID()}`;
  const client = journeyClient(options);

  const record = <R extends { request: string; status: number; body: unknown }>(
    title: string,
    reply: R,
  ): R => {
    const step = {
      title,
      request: reply.request,
      status: reply.status,
      summary: summarize(reply.body),
    };
    steps.push(step);
    options.onStep?.(step);
    return reply;
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
  /** `statuses` of an error answer are "not yet" (false); any other error ends the wait. */
  const notYet =
    (...statuses: number[]) =>
    (error: unknown) => {
      if (error instanceof ProblemError && statuses.includes(error.status)) return false as const;
      throw error;
    };

  const email = `ada+${randomUUID().slice(0, 8)}@example.com`;
  const password = `correct horse ${randomUUID()}`;
  await client.api.register({ body: { email, password, displayName: 'Ada Lovelace' } }).then(
    (reply) => record('Sign up', reply),
    (error: unknown) => {
      // 409 after a retry: the lost attempt registered the address; signing in proves it was ours.
      if (!(error instanceof ProblemError && error.status === 409 && error.attempts > 1))
        throw error;
      record('Sign up', { request: error.request, status: 409, body: error.problem });
    },
  );
  const login = record('Sign in', await client.api.login({ body: { email, password } }));
  const userId = login.body.user.id;

  // Read, then change on the revision read. A 412 means the read was behind (another event of
  // the account, or a view not caught up): the answer comes once the views have caught up, so
  // reading again gives the ETag to use.
  await poll('the profile to take the new name', async () => {
    const profile = record('Your profile', await client.api.getUser({ params: { id: userId } }));
    return client.api
      .updateUser({
        params: { id: userId },
        ifMatch: profile.etag ?? '',
        body: { displayName: 'Ada King, Countess of Lovelace' },
      })
      .then(
        (reply) => record('Name the account (If-Match: the profile’s ETag)', reply),
        notYet(412),
      );
  });

  const created = record(
    'Buy a starter agent, paying in BTC',
    await client.api.createPayment(
      {
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
      { requestId: correlationId, idempotencyKey: randomUUID() },
    ),
  );
  const paymentId = created.body.id;

  await poll('the payment to finish', async () => {
    const { body } = await client.api.getPaymentStatus({ params: { id: paymentId } });
    if (['failed', 'expired', 'partially_paid', 'refunded'].includes(body.status)) {
      throw new JourneyError(`the payment ended ${body.status}`);
    }
    return body.status === 'finished' ? body : false;
  });
  record('Payment finished', await client.api.getPaymentStatus({ params: { id: paymentId } }));

  const invoice = await poll('the invoice', () =>
    client.api
      .getPaymentInvoice({ params: { id: paymentId } })
      .then((reply) => reply.body, notYet(404, 409)),
  );
  record('Invoice issued', await client.api.getPaymentInvoice({ params: { id: paymentId } }));

  const agent = await poll('the agent to be deployed', async () => {
    const { body } = await client.api.listAgents({ query: { limit: 20 } });
    const mine = body.items.find((a) => a.paymentId === paymentId);
    if (mine?.status === 'failed') throw new JourneyError('the deployment failed');
    return mine?.status === 'deployed' ? mine : false;
  });
  const detail = record(
    'The deployed agent',
    await client.api.getAgent({ params: { id: agent.id } }),
  );

  const notifications = await poll('both notifications', async () => {
    const { body } = await client.api.listNotifications({ params: { id: userId } });
    const kinds = new Set(body.notifications.map((n) => n.kind));
    return kinds.has('payment.confirmed') && kinds.has('agent.deployed')
      ? body.notifications
      : false;
  });
  record('Notifications', await client.api.listNotifications({ params: { id: userId } }));

  const usage = await poll('usage to count the payment and the agent', async () => {
    const { body } = await client.api.getUsage({ params: { id: userId } });
    return body.payments.confirmed >= 1 && body.agents.deployed >= 1 ? body : false;
  });
  record('Usage', await client.api.getUsage({ params: { id: userId } }));

  const tokens = client.tokens();
  return {
    correlationId,
    userId,
    email,
    password,
    accessToken: tokens?.accessToken ?? '',
    refreshToken: tokens?.refreshToken ?? '',
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
    'displayName',
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
