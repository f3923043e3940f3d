import http from 'node:http';
import https from 'node:https';

/** One request to a provider's API: the whole exchange (headers and body) within `timeoutMs`. */
export interface OutboundRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** A longer answer is a network failure, not something to hold in memory (default 8 MiB). */
  maxBodyBytes?: number;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Why no answer came: our deadline, the caller's signal, or the network (with its code). */
export class OutboundError extends Error {
  constructor(
    readonly kind: 'timeout' | 'aborted' | 'network',
    message: string,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OutboundError';
  }
}

/**
 * Keep-alive connections per protocol, shared by every client of the process. node:http, not
 * fetch: a build tracker polls Devin hundreds of times a second under load, and fetch (its
 * streams, Headers and AbortSignal.any per call) cost about three times as much CPU per call.
 */
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

export function outboundRequest(request: OutboundRequest): Promise<OutboundResponse> {
  const url = new URL(request.url);
  const protocol = url.protocol === 'https:' ? 'https:' : url.protocol === 'http:' ? 'http:' : null;
  if (!protocol)
    return Promise.reject(new OutboundError('network', `unsupported protocol ${url.protocol}`));
  const limit = request.maxBodyBytes ?? 8 * 1024 * 1024;
  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    const finish = (error: OutboundError | undefined, response?: OutboundResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      if (error) {
        req.destroy();
        reject(error);
      } else resolve(response!);
    };
    const onAbort = () => finish(new OutboundError('aborted', 'the request was cancelled'));
    const timer = setTimeout(
      () => finish(new OutboundError('timeout', `no answer within ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    const body = request.body === undefined ? undefined : Buffer.from(request.body);
    const req = (protocol === 'https:' ? https : http).request(url, {
      method: request.method,
      agent: agents[protocol],
      headers: {
        ...request.headers,
        ...(body ? { 'content-length': String(body.length) } : {}),
      },
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish(new OutboundError('network', error.message, error.code, { cause: error })),
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit)
          finish(new OutboundError('network', `the answer is longer than ${limit} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', (error: NodeJS.ErrnoException) =>
        finish(new OutboundError('network', error.message, error.code, { cause: error })),
      );
      res.on('aborted', () => finish(new OutboundError('network', 'the answer was cut off')));
      res.on('end', () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    if (request.signal?.aborted) return onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}
