import {
  AgentDetailSchema,
  AgentSummarySchema,
  AuthResponseSchema,
  CreatePaymentResponseSchema,
  InvoiceSchema,
  type LoginRequestSchema,
  NotificationSchema,
  PaymentStatusResponseSchema,
  type Problem,
  ProblemSchema,
  type RegisterRequestSchema,
  StreamTicketIssuedSchema,
  type CreatePaymentRequestSchema,
  UsageSchema,
  pageOf,
} from '@meetmatt/contracts';
import { z } from 'zod';

/**
 * The Meet Matt API as the web app calls it, through the gateway: one method per operation,
 * requests typed from the contracts' zod schemas, responses checked against them, and every
 * error answer (RFC 9457 problem+json) thrown as a {@link ProblemError}. Runs wherever `fetch`
 * does (browsers, Node.js 20+).
 */
export interface ClientOptions {
  /** The gateway, e.g. `http://localhost:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` (set later with `setToken`). */
  token?: string;
  fetch?: typeof fetch;
}

/** An error answer of the API: its status and its problem+json body. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    /** The `X-Request-Id` of the answer, for `meetmatt trace`. */
    readonly requestId: string | null,
  ) {
    super(`${status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.name = 'ProblemError';
  }
}

const AgentPageSchema = pageOf(AgentSummarySchema, 'AgentPage');
const NotificationListSchema = z.object({
  notifications: z.array(NotificationSchema),
  unread: z.number(),
});

export type RegisterRequest = z.input<typeof RegisterRequestSchema>;
export type LoginRequest = z.input<typeof LoginRequestSchema>;
export type CreatePaymentRequest = z.input<typeof CreatePaymentRequestSchema>;
export type AuthResponse = z.infer<typeof AuthResponseSchema>;
export type CreatePaymentResponse = z.infer<typeof CreatePaymentResponseSchema>;
export type PaymentStatusResponse = z.infer<typeof PaymentStatusResponseSchema>;
export type Invoice = z.infer<typeof InvoiceSchema>;
export type StreamTicketIssued = z.infer<typeof StreamTicketIssuedSchema>;
export type AgentPage = z.infer<typeof AgentPageSchema>;
export type AgentDetail = z.infer<typeof AgentDetailSchema>;
export type NotificationList = z.infer<typeof NotificationListSchema>;
export type Usage = z.infer<typeof UsageSchema>;

interface Call {
  body?: unknown;
  headers?: Record<string, string>;
  accept?: string;
}

export function createClient(options: ClientOptions) {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let token = options.token;

  async function send(method: string, path: string, call: Call): Promise<Response> {
    const res = await doFetch(`${options.baseUrl}${path}`, {
      method,
      headers: {
        accept: call.accept ?? 'application/json',
        ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...call.headers,
      },
      ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
    });
    if (res.ok) return res;
    const text = await res.text();
    let problem: Problem;
    try {
      problem = ProblemSchema.parse(JSON.parse(text));
    } catch {
      problem = { type: 'about:blank', title: res.statusText || 'Error', status: res.status };
    }
    throw new ProblemError(res.status, problem, res.headers.get('x-request-id'));
  }

  async function json<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    call: Call = {},
  ): Promise<z.infer<S>> {
    const res = await send(method, path, call);
    return schema.parse(await res.json());
  }

  const id = (value: string) => encodeURIComponent(value);

  return {
    setToken(value: string | undefined) {
      token = value;
    },
    auth: {
      async register(body: RegisterRequest): Promise<AuthResponse> {
        const auth = await json(AuthResponseSchema, 'POST', '/auth/register', { body });
        token = auth.accessToken;
        return auth;
      },
      async login(body: LoginRequest): Promise<AuthResponse> {
        const auth = await json(AuthResponseSchema, 'POST', '/auth/login', { body });
        token = auth.accessToken;
        return auth;
      },
    },
    notifications: {
      /** A single-use ticket and the URL to open with `new EventSource(…)` (absolute). */
      async streamTicket(): Promise<StreamTicketIssued & { streamUrl: string }> {
        const issued = await json(StreamTicketIssuedSchema, 'POST', '/notifications/stream-ticket');
        return { ...issued, streamUrl: `${options.baseUrl}${issued.url}` };
      },
      list: (userId: string): Promise<NotificationList> =>
        json(NotificationListSchema, 'GET', `/users/${id(userId)}/notifications`),
    },
    payments: {
      create: (
        body: CreatePaymentRequest,
        headers: { idempotencyKey: string; requestId?: string },
      ): Promise<CreatePaymentResponse> =>
        json(CreatePaymentResponseSchema, 'POST', '/payments/create', {
          body,
          headers: {
            'idempotency-key': headers.idempotencyKey,
            ...(headers.requestId ? { 'x-request-id': headers.requestId } : {}),
          },
        }),
      status: (paymentId: string): Promise<PaymentStatusResponse> =>
        json(PaymentStatusResponseSchema, 'GET', `/payments/${id(paymentId)}/status`),
      invoice: (paymentId: string): Promise<Invoice> =>
        json(InvoiceSchema, 'GET', `/payments/${id(paymentId)}/invoice`),
      /** The invoice as a PDF: its bytes and Content-Type. */
      async invoicePdf(paymentId: string): Promise<{ contentType: string; bytes: Uint8Array }> {
        const res = await send('GET', `/payments/${id(paymentId)}/invoice`, {
          accept: 'application/pdf',
        });
        return {
          contentType: res.headers.get('content-type') ?? '',
          bytes: new Uint8Array(await res.arrayBuffer()),
        };
      },
    },
    agents: {
      list: (limit = 20): Promise<AgentPage> =>
        json(AgentPageSchema, 'GET', `/agents?limit=${limit}`),
      get: (agentId: string): Promise<AgentDetail> =>
        json(AgentDetailSchema, 'GET', `/agents/${id(agentId)}`),
    },
    users: {
      usage: (userId: string): Promise<Usage> =>
        json(UsageSchema, 'GET', `/users/${id(userId)}/usage`),
    },
  };
}

export type Client = ReturnType<typeof createClient>;
