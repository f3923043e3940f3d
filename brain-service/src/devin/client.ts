import { z } from 'zod';
import { type Logger, type Metrics } from '@meetmatt/infra';
import {
  type CreateSessionRequest,
  type CreatedSession,
  CreatedSessionSchema,
  type DevinSession,
  DevinSessionSchema,
  type DevinSessionSummary,
  MessageAnswerSchema,
  SessionListSchema,
} from './api-schemas';
import { DevinError } from './errors';
import { defaultRetryPolicy } from './retry';
import { type DevinRequest, type DevinResponse, DevinTransport } from './transport';

const DevinClientConfigSchema = z.object({
  apiUrl: z.url({ message: 'expected a URL' }),
  apiKey: z.string().min(1, 'expected an API key'),
  timeoutMs: z.number().int().positive().default(30_000),
  retry: z
    .object({
      maxAttempts: z.number().int().min(1).default(defaultRetryPolicy.maxAttempts),
      minDelayMs: z.number().int().min(0).default(defaultRetryPolicy.minDelayMs),
      maxDelayMs: z.number().int().min(0).default(defaultRetryPolicy.maxDelayMs),
    })
    .prefault({}),
});

export type DevinClientConfig = z.input<typeof DevinClientConfigSchema> & {
  /** Provider calls are logged here (method, path, status, duration, attempt; no secrets). */
  logger?: Logger;
  /** Provider calls are counted and timed here (`provider_request_duration_seconds`). */
  metrics?: Metrics;
};

export interface CallOptions {
  /** Cancels the call, its retries included (a stopping poller). */
  signal?: AbortSignal;
}

export interface ListSessionsQuery {
  limit?: number;
  offset?: number;
  tags?: string[];
}

export type MessageResult = { delivered: true } | { delivered: false; detail: string };

export type TerminateResult =
  { outcome: 'terminated' } | { outcome: 'already-exited'; detail: string };

/**
 * Devin API v1 (`shared/EXTERNAL-APIS.md`). Every answer is parsed with zod; a call that
 * cannot succeed throws a `DevinError` once the retry policy is spent. Expected outcomes that
 * are not errors for a caller (a message not delivered, a session already exited) are results.
 */
export class DevinClient {
  private readonly transport: DevinTransport;

  constructor(config: DevinClientConfig) {
    const { logger, metrics, ...settings } = config;
    const parsed = DevinClientConfigSchema.parse(settings);
    this.transport = new DevinTransport({
      ...parsed,
      ...(logger ? { logger } : {}),
      ...(metrics ? { metrics } : {}),
    });
  }

  /** `idempotent: true` makes a repeat (same prompt and title) return the same session. */
  async createSession(input: CreateSessionRequest, options?: CallOptions): Promise<CreatedSession> {
    const request = this.request('POST', '/v1/sessions', options, {
      body: input,
      repeatable: input.idempotent === true,
    });
    return this.expect(request, await this.transport.send(request), CreatedSessionSchema);
  }

  async getSession(sessionId: string, options?: CallOptions): Promise<DevinSession> {
    const request = this.request('GET', sessionPath(sessionId), options);
    return this.expect(request, await this.transport.send(request), DevinSessionSchema);
  }

  async listSessions(
    query: ListSessionsQuery = {},
    options?: CallOptions,
  ): Promise<DevinSessionSummary[]> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.offset !== undefined) params.set('offset', String(query.offset));
    for (const tag of query.tags ?? []) params.append('tags', tag);
    const request = this.request('GET', '/v1/sessions', options, { query: params });
    const answer = this.expect(request, await this.transport.send(request), SessionListSchema);
    return answer.sessions;
  }

  /**
   * A repeat after a lost answer would send the message twice; harmless here, since a poller
   * that saw no answer sends its follow-up again anyway.
   */
  async sendMessage(
    sessionId: string,
    message: string,
    options?: CallOptions,
  ): Promise<MessageResult> {
    const request = this.request('POST', `${sessionPath(sessionId)}/message`, options, {
      body: { message },
    });
    const response = await this.transport.send(request);
    if (response.status === 204) return { delivered: true };
    const answer = this.expect(request, response, MessageAnswerSchema);
    return answer?.detail === undefined
      ? { delivered: true }
      : { delivered: false, detail: answer.detail };
  }

  async terminate(sessionId: string, options?: CallOptions): Promise<TerminateResult> {
    const request = this.request('DELETE', sessionPath(sessionId), options);
    const response = await this.transport.send(request);
    if (isSuccess(response.status)) return { outcome: 'terminated' };
    const error = this.transport.reject(request, response);
    if (response.status === 400 && /already exited/i.test(error.detail)) {
      return { outcome: 'already-exited', detail: error.detail };
    }
    throw error;
  }

  private request(
    method: DevinRequest['method'],
    path: string,
    options: CallOptions | undefined,
    extra: Partial<DevinRequest> = {},
  ): DevinRequest {
    return {
      method,
      path,
      repeatable: true,
      ...extra,
      ...(options?.signal ? { signal: options.signal } : {}),
    };
  }

  private expect<S extends z.ZodType>(
    request: DevinRequest,
    response: DevinResponse,
    schema: S,
  ): z.output<S> {
    if (!isSuccess(response.status)) throw this.transport.reject(request, response);
    const parsed = schema.safeParse(response.body);
    if (parsed.success) return parsed.data;
    throw new DevinError({
      kind: 'invalid-response',
      method: request.method,
      path: request.path,
      status: response.status,
      detail: `unexpected answer: ${describeIssues(parsed.error)}`,
      retryable: false,
      attempts: response.attempts,
    });
  }
}

function sessionPath(sessionId: string): string {
  return `/v1/sessions/${encodeURIComponent(sessionId)}`;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** Paths and messages only: the values may be anything Devin sent. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
}
