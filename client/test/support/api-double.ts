import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { defaultPlans } from '@meetmatt/contracts';

/** One request as the double received it. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Handler = (request: Received, res: http.ServerResponse) => void;

/**
 * A real HTTP server standing in for the gateway, answering what each test scripts: the client
 * under test speaks to it over a socket exactly as to the gateway.
 */
export async function startApiDouble(): Promise<{
  url: string;
  received: Received[];
  handle(handler: Handler): void;
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  let handler: Handler = (_req, res) => problem(res, 404, 'No handler');
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(request);
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    handle: (next) => {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'x-request-id': randomUUID(),
      ...headers,
    })
    .end(JSON.stringify(body));
}

export function problem(
  res: http.ServerResponse,
  status: number,
  title: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, {
      'content-type': 'application/problem+json',
      'x-request-id': `req-${status}`,
      ...headers,
    })
    .end(
      JSON.stringify({ type: `https://meetmatt.dev/problems/${status}`, title, status, ...extra }),
    );
}

/** An AuthResponse as user-service gives it, with the tokens named. */
export function authResponse(accessToken: string, refreshToken: string): Record<string, unknown> {
  return {
    accessToken,
    refreshToken,
    expiresIn: 900,
    user: {
      id: randomUUID(),
      email: 'ada@example.com',
      displayName: 'Ada',
      role: 'user',
      createdAt: new Date().toISOString(),
      billing: null,
    },
  };
}

export const plans = { plans: defaultPlans };
