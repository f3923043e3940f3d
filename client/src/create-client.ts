import { AuthResponseSchema, type EndpointDef, userEndpoints } from '@meetmatt/contracts';
import { backoffDelay, sleep } from '@meetmatt/infra/runtime/backoff';
import { type z } from 'zod';
import { type Args, type RawReply, type Reply, type ReplyMeta } from './endpoint-types';
import {
  NetworkError,
  ProblemError,
  TimeoutError,
  UnexpectedResponseError,
  problemOf,
  retryAfterMs,
} from './errors';
import { type Operations, operations } from './operations';

/** The tokens of a signed-in session. */
export interface Tokens {
  accessToken: string;
  refreshToken?: string | undefined;
}

export interface RetryPolicy {
  /** Attempts in all, the first included (default 3). */
  attempts: number;
  /** Statuses tried again, after `Retry-After` when the answer gives one (default 429, 503). */
  statuses: readonly number[];
  /** Also try again when no answer came (refused or dropped connection, attempt timed out). */
  transport: boolean;
  /** Backoff without `Retry-After`: full jitter from `minDelayMs`, doubling up to `maxDelayMs`. */
  minDelayMs: number;
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for: the ProblemError is thrown at once. */
  maxRetryAfterMs: number;
}

export interface RetryEvent {
  request: string;
  /** The attempt that failed (from 1). */
  attempt: number;
  /** Its status, or undefined when no answer came. */
  status: number | undefined;
  delayMs: number;
}

export interface ClientOptions {
  /** The gateway, e.g. `http://localhost:8080` (no trailing slash). */
  baseUrl: string;
  /** A signed-in session to start with (register, login and refresh set it themselves). */
  tokens?: Tokens;
  /** Told each time the tokens change (after sign-in, refresh, logout; undefined when gone). */
  onTokens?: (tokens: Tokens | undefined) => void;
  /** Budget of each attempt, until the body is read (until the headers for raw calls). Default 15 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  onRetry?: (event: RetryEvent) => void;
  /** Check each success body against its schema (default true). */
  checkResponses?: boolean;
  fetch?: typeof fetch;
}

export interface CallOptions {
  /** Ends the call (and its retries) when aborted. */
  signal?: AbortSignal;
  timeoutMs?: number;
  /** For operations that take one; a fresh key is made for each call otherwise, kept over retries. */
  idempotencyKey?: string;
  /** Sent as X-Request-Id: the correlation id of what the request causes. */
  requestId?: string;
  headers?: Record<string, string>;
  retry?: Partial<RetryPolicy>;
}

export interface RawCallOptions extends CallOptions {
  /** e.g. `application/pdf`, `text/html`, `text/event-stream`. */
  accept?: string;
}

type OperationCall<D> = (...args: Args<D, CallOptions>) => Promise<Reply<D>>;
type RawOperationCall<D> = (...args: Args<D, RawCallOptions>) => Promise<RawReply>;

/** One typed function per operation of the contracts, named by its operationId. */
export type Api = { [K in keyof Operations]: OperationCall<Operations[K]> };
/** The same operations, answering the Response unread (PDFs, HTML, event streams). */
export type RawApi = { [K in keyof Operations]: RawOperationCall<Operations[K]> };

export interface Client {
  api: Api;
  raw: RawApi;
  /** The absolute URL of a path the API gave (e.g. a stream ticket's `url`). */
  url(path: string): string;
  tokens(): Tokens | undefined;
  setTokens(tokens: Tokens | undefined): void;
}

interface CallInput {
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  ifMatch?: string;
}

const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  statuses: [429, 503],
  transport: false,
  minDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 10_000,
};

/**
 * The Meet Matt API for the web app, through the gateway, derived from the endpoint definitions
 * of the contracts: for each operation, the path template filled from `params`, the query and
 * body typed from their schemas, the success body parsed with its schema, and every error answer
 * thrown as a {@link ProblemError}. Bearer tokens (refreshed once on a 401), `Idempotency-Key`,
 * `If-Match`/`ETag`, `Retry-After` on 429/503 (bounded) and a timeout on every attempt. Uses
 * `fetch` only: browsers and Node.js 20+.
 */
export function createClient(options: ClientOptions): Client {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  let tokens = options.tokens;
  let refreshing: Promise<boolean> | undefined;

  const setTokens = (next: Tokens | undefined) => {
    tokens = next;
    options.onTokens?.(next);
  };

  // One refresh at a time: a refresh token is single use, so concurrent 401s share one.
  const refresh = (): Promise<boolean> => {
    const refreshToken = tokens?.refreshToken;
    if (!refreshToken) return Promise.resolve(false);
    refreshing ??= send(userEndpoints.refresh, { body: { refreshToken } }, {}, 'json')
      .then(
        () => true,
        (error: unknown) => {
          if (!(error instanceof ProblemError)) throw error;
          setTokens(undefined);
          return false;
        },
      )
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  };

  async function send(
    def: EndpointDef,
    input: CallInput,
    call: RawCallOptions,
    mode: 'json' | 'raw',
  ): Promise<{ status: number; body: unknown; response: Response } & ReplyMeta> {
    const policy = { ...DEFAULT_RETRY, ...options.retry, ...call.retry };
    const timeoutMs = call.timeoutMs ?? options.timeoutMs ?? 15_000;
    const path = pathOf(def, input);
    const request = `${def.method.toUpperCase()} ${path}`;
    const authenticated = def.auth === 'user' || def.auth === 'admin';
    const idempotencyKey =
      call.idempotencyKey ??
      (def.headers && 'Idempotency-Key' in def.headers
        ? globalThis.crypto.randomUUID()
        : undefined);
    const body = def.body ? JSON.stringify(input.body ?? {}) : undefined;
    let refreshed = false;

    for (let attempt = 1; ; attempt++) {
      const sentToken = authenticated ? tokens?.accessToken : undefined;
      const headers: Record<string, string> = {
        accept: call.accept ?? 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(sentToken ? { authorization: `Bearer ${sentToken}` } : {}),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        ...(input.ifMatch !== undefined ? { 'if-match': input.ifMatch } : {}),
        ...(call.requestId ? { 'x-request-id': call.requestId } : {}),
        ...call.headers,
      };
      const budget = attemptBudget(timeoutMs, call.signal);
      let failure: { status?: number; error: Error; retryAfter?: number };
      try {
        const response = await doFetch(`${baseUrl}${path}`, {
          method: def.method.toUpperCase(),
          headers,
          ...(body !== undefined ? { body } : {}),
          signal: budget.signal,
        });
        const meta: ReplyMeta = {
          headers: response.headers,
          etag: response.headers.get('etag') ?? undefined,
          requestId: response.headers.get('x-request-id') ?? undefined,
          request,
          attempts: attempt,
        };
        if (response.ok) {
          if (mode === 'raw') {
            budget.clearTimer(); // a stream or a download may outlive the budget of its headers
            return { status: response.status, body: undefined, response, ...meta };
          }
          const parsed = await successBody(def, response, request, options.checkResponses);
          if (parsed instanceof Response) budget.clearTimer();
          else budget.clear();
          if (def.responses[response.status]?.schema === AuthResponseSchema) {
            const auth = parsed as z.infer<typeof AuthResponseSchema>;
            setTokens({ accessToken: auth.accessToken, refreshToken: auth.refreshToken });
          } else if (def.operationId === userEndpoints.logout.operationId) {
            setTokens(undefined);
          }
          return { status: response.status, body: parsed, response, ...meta };
        }
        const text = await response.text();
        budget.clear();
        const retryAfter = retryAfterMs(response.headers.get('retry-after'));
        const error = new ProblemError(
          response.status,
          problemOf(response.status, response.statusText, text),
          {
            request,
            attempts: attempt,
            requestId: meta.requestId ?? null,
            retryAfterMs: retryAfter,
          },
        );
        if (response.status === 401 && authenticated && !refreshed && sentToken) {
          // Another call may have refreshed meanwhile; otherwise this one does.
          refreshed = true;
          if (tokens?.accessToken !== sentToken || (await refresh())) {
            attempt--;
            continue;
          }
        }
        failure = { status: response.status, error, retryAfter };
      } catch (error) {
        budget.clear();
        if (call.signal?.aborted) throw error;
        if (budget.timedOut) failure = { error: new TimeoutError(request, timeoutMs, attempt) };
        // fetch's own failure is a TypeError (possibly of another realm: name, not instanceof)
        else if ((error as { name?: unknown } | null)?.name === 'TypeError')
          failure = { error: new NetworkError(request, attempt, error) };
        else throw error; // not the network's: a bug, or a fetch wrapper's verdict
      }

      const retried =
        failure.status === undefined ? policy.transport : policy.statuses.includes(failure.status);
      const delayMs =
        failure.retryAfter ?? backoffDelay(attempt, policy.minDelayMs, policy.maxDelayMs);
      if (!retried || attempt >= policy.attempts || delayMs > policy.maxRetryAfterMs) {
        throw failure.error;
      }
      options.onRetry?.({ request, attempt, status: failure.status, delayMs });
      await sleep(delayMs, call.signal);
      if (call.signal?.aborted) throw failure.error;
    }
  }

  const api = {} as Record<string, unknown>;
  const raw = {} as Record<string, unknown>;
  for (const [name, def] of Object.entries(operations) as [string, EndpointDef][]) {
    api[name] = async (input: CallInput = {}, call: CallOptions = {}) => {
      const { response: _response, ...reply } = await send(def, input, call, 'json');
      return reply;
    };
    raw[name] = async (input: CallInput = {}, call: RawCallOptions = {}) => {
      const { body: _body, ...reply } = await send(def, input, call, 'raw');
      return reply;
    };
  }

  return {
    api: api as Api,
    raw: raw as RawApi,
    url: (path) => `${baseUrl}${path}`,
    tokens: () => tokens,
    setTokens,
  };
}

/** The path template filled from `params` (encoded), and the query string. */
function pathOf(def: EndpointDef, input: CallInput): string {
  const path = def.path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => {
    const value = input.params?.[name];
    if (value === undefined || value === null || value === '') {
      throw new TypeError(`${def.operationId}: params.${name} is required`);
    }
    return encodeURIComponent(scalar(value));
  });
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(input.query ?? {})) {
    for (const item of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (item !== undefined && item !== null) query.append(key, scalar(item));
    }
  }
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}

/** A path or query value as text: strings, numbers and booleans; a Date as ISO 8601. */
function scalar(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  return typeof value === 'object' ? JSON.stringify(value) : `${value as number | boolean}`;
}

/** A success body: parsed with its schema when JSON has one; the unread Response otherwise. */
async function successBody(
  def: EndpointDef,
  response: Response,
  request: string,
  check = true,
): Promise<unknown> {
  const described = def.responses[response.status];
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!described?.schema) {
    if (described?.contentType && !/[/+]json$/.test(described.contentType)) return response;
    await response.arrayBuffer();
    return undefined;
  }
  if (!/[/+]json$/.test(type)) {
    throw new UnexpectedResponseError(request, response.status, `content type ${type || 'none'}`);
  }
  const json: unknown = await response.json();
  if (!check) return json;
  const parsed = described.schema.safeParse(json);
  if (!parsed.success) {
    throw new UnexpectedResponseError(request, response.status, parsed.error.message);
  }
  return parsed.data;
}

/** An attempt's signal: the caller's, and the attempt's own timeout. */
function attemptBudget(
  timeoutMs: number,
  outer: AbortSignal | undefined,
): { signal: AbortSignal; timedOut: boolean; clearTimer(): void; clear(): void } {
  const controller = new AbortController();
  const state = { signal: controller.signal, timedOut: false, clearTimer, clear };
  const onAbort = () => controller.abort(outer?.reason);
  const timer = setTimeout(() => {
    state.timedOut = true;
    controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  /** The body is the caller's now: the caller's signal still ends it, the budget no more. */
  function clearTimer() {
    clearTimeout(timer);
  }
  function clear() {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
  return state;
}
