/**
 * The HTTP client of a chaos journey: it retries what a real client would retry (502, 503, 504,
 * 429, an answer that never came, a connection refused or reset), with backoff that honours
 * Retry-After, within a budget per call. Everything else is the answer.
 */
import { sleep } from '@meetmatt/infra';

export interface CallFigures {
  calls: number;
  retries: number;
  /** Answers by status that were retried or failed the call (5xx, 429), and transport errors. */
  answers: Map<string, number>;
  /** 500s, with the request that got them: the issue wants 503 with Retry-After instead. */
  serverErrors: string[];
}

export function newCallFigures(): CallFigures {
  return { calls: 0, retries: 0, answers: new Map(), serverErrors: [] };
}

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  token?: string;
  /** Also retry 409 (an Idempotency-Key still held by an earlier attempt). */
  retryConflict?: boolean;
}

export interface Answer {
  status: number;
  body: unknown;
}

const RETRIED = new Set([429, 502, 503, 504]);
const ATTEMPT_TIMEOUT_MS = 15_000;

export class CallFailed extends Error {}

export class JourneyClient {
  constructor(
    private readonly baseUrl: string,
    private readonly budgetMs: number,
    private readonly figures: CallFigures,
  ) {}

  async call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
    const deadline = Date.now() + this.budgetMs;
    this.figures.calls++;
    let last = '';
    for (let attempt = 0, wait = 200; ; attempt++, wait = Math.min(wait * 2, 3_000)) {
      if (attempt > 0) this.figures.retries++;
      let retryAfterMs: number | undefined;
      try {
        const res = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: {
            accept: 'application/json',
            ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
            ...options.headers,
          },
          ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        const text = await res.text();
        const retried =
          RETRIED.has(res.status) ||
          (res.status === 409 && options.retryConflict === true) ||
          (res.status === 500 && method === 'GET');
        if (res.status >= 500) {
          this.count(String(res.status));
          if (res.status === 500) {
            this.figures.serverErrors.push(`${method} ${path}: ${text.slice(0, 200)}`);
          }
        } else if (res.status === 429) this.count('429');
        if (!retried) return { status: res.status, body: parse(text) };
        last = `${res.status} ${text.slice(0, 200)}`;
        const header = res.headers.get('retry-after');
        if (header && /^\d+$/.test(header)) retryAfterMs = Number(header) * 1_000;
      } catch (error) {
        const reason = transportError(error);
        this.count(reason);
        last = reason;
      }
      const pause = Math.max(wait, Math.min(retryAfterMs ?? 0, 5_000));
      if (Date.now() + pause > deadline) {
        throw new CallFailed(
          `${method} ${path}: no answer within ${this.budgetMs / 1000} s (last: ${last})`,
        );
      }
      await sleep(pause);
    }
  }

  private count(key: string): void {
    this.figures.answers.set(key, (this.figures.answers.get(key) ?? 0) + 1);
  }
}

function parse(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function transportError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string } };
  if (e.name === 'TimeoutError') return 'timeout';
  return e.cause?.code ?? e.message;
}
