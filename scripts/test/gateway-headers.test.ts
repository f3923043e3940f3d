import { spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type GatewayOptions, parseCorsOrigins, renderGateway } from '../src/lib/gateway';
import { ensureNginx } from '../src/lib/nginx';
import { loadSystemConfig } from '../src/lib/system-config';
import { eventually, untilAnswering } from '@meetmatt/infra/testing';

/**
 * CORS and the headers the gateway adds, on real nginx in front of a stub upstream that plays
 * the three services: /auth/verify accepts one token, every other route answers 200 with an
 * X-Request-Id of its own making when it was given none (as the services' http kit does) and
 * records what it received, and on which connection.
 */
const GOOD_TOKEN = 'good.token-1';
const APP = 'http://localhost:5173';

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  httpVersion: string;
  socket: number;
}

let nginx: string;
let workDir: string;
let stub: http.Server;
let upstream: string;
let seen: Seen[];
let verifyCalls: number;

beforeAll(async () => {
  nginx = ensureNginx(() => undefined);
  workDir = mkdtempSync(path.join(os.tmpdir(), 'meetmatt-gateway-headers-'));
  const sockets = new WeakMap<net.Socket, number>();
  let nextSocket = 0;
  stub = http.createServer((req, res) => {
    if (!sockets.has(req.socket)) sockets.set(req.socket, nextSocket++);
    if (req.url === '/auth/verify') {
      verifyCalls++;
      const valid = req.headers.authorization === `Bearer ${GOOD_TOKEN}`;
      res.writeHead(valid ? 200 : 401, valid ? { 'x-user-id': 'u-1', 'x-user-role': 'user' } : {});
      res.end();
      return;
    }
    seen.push({
      url: req.url ?? '',
      headers: req.headers,
      httpVersion: req.httpVersion,
      socket: sockets.get(req.socket)!,
    });
    const given = req.headers['x-request-id'];
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-request-id': typeof given === 'string' ? given : `service-made-${nextSocket}`,
      etag: '"3"',
    });
    res.end('{"ok":true}');
  });
  stub.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  upstream = `127.0.0.1:${(stub.address() as AddressInfo).port}`;
});

afterAll(async () => {
  stub?.closeAllConnections();
  await new Promise((resolve) => stub?.close(resolve));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  verifyCalls = 0;
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** nginx on a free port; resolves once it answers, with its port, access log and a stop function. */
async function startNginx(name: string, options: Partial<GatewayOptions>) {
  const port = await freePort();
  const dir = path.join(workDir, name);
  const accessLog = path.join(dir, 'access.log');
  const conf = renderGateway({
    listen: `127.0.0.1:${port}`,
    runDir: dir,
    upstreams: { user: [upstream], payment: [upstream], brain: [upstream] },
    accessLog,
    ...options,
  });
  const child = spawn(nginx, ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await untilAnswering(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 10_000 });
  return {
    port,
    accessLog: () =>
      readFileSync(accessLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface Answer {
  status: number;
  /** Header name (lower case) → every value sent under it, in order. */
  headers: Record<string, string[]>;
  body: string;
}

function request(
  port: number,
  method: string,
  route: string,
  headers: Record<string, string>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: route, headers, agent: false, timeout: 5_000 },
      (res) => {
        const all: Record<string, string[]> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2)
          (all[res.rawHeaders[i]!.toLowerCase()] ??= []).push(res.rawHeaders[i + 1]!);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: all, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const preflight = (origin: string, method = 'POST') => ({
  origin,
  'access-control-request-method': method,
  'access-control-request-headers': 'authorization, content-type, idempotency-key',
});

describe('CORS at the gateway (real nginx)', () => {
  let gateway: Awaited<ReturnType<typeof startNginx>>;

  beforeAll(async () => {
    gateway = await startNginx('cors', {
      corsOrigins: parseCorsOrigins(`${APP},http://127.0.0.1:5173`),
    });
  });
  afterAll(() => gateway?.stop());

  test('when an allowed origin sends a preflight to an authenticated route, then 204 with the CORS headers and no credential asked for', async () => {
    const answer = await request(gateway.port, 'OPTIONS', '/payments/create', preflight(APP));
    expect(answer.status).toBe(204);
    expect(answer.headers['access-control-allow-origin']).toEqual([APP]);
    expect(answer.headers.vary).toEqual(['Origin']);
    expect(answer.headers['access-control-allow-methods']?.[0]?.split(', ')).toEqual(
      expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']),
    );
    expect(answer.headers['access-control-allow-headers']?.[0]?.split(', ')).toEqual(
      expect.arrayContaining([
        'Authorization',
        'Content-Type',
        'If-Match',
        'Idempotency-Key',
        'Last-Event-ID',
      ]),
    );
    expect(answer.headers['access-control-max-age']).toEqual(['600']);
    // no cookie is used: credentials are never allowed
    expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
    expect(verifyCalls).toBe(0);
    expect(seen).toEqual([]);
  });

  test('when the second default origin sends a preflight, then it is allowed too', async () => {
    const origin = 'http://127.0.0.1:5173';
    const answer = await request(gateway.port, 'OPTIONS', '/agents', preflight(origin, 'GET'));
    expect([answer.status, answer.headers['access-control-allow-origin']]).toEqual([204, [origin]]);
  });

  test('when an origin not on the list sends a preflight, then no Access-Control-Allow-Origin (the browser refuses)', async () => {
    for (const origin of ['https://evil.example', 'http://localhost:5174', `${APP}.evil.example`]) {
      const answer = await request(gateway.port, 'OPTIONS', '/payments', preflight(origin));
      expect([origin, answer.status]).toEqual([origin, 204]);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
      expect(answer.headers['access-control-allow-methods']).toBeUndefined();
      expect(answer.headers.vary).toEqual(['Origin']);
    }
  });

  test('when an allowed origin calls an authenticated route, then the answer carries its origin and exposes the headers a client reads', async () => {
    const answer = await request(gateway.port, 'GET', '/payments', {
      origin: APP,
      authorization: `Bearer ${GOOD_TOKEN}`,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toEqual([APP]);
    expect(answer.headers.vary).toEqual(['Origin']);
    expect(answer.headers['access-control-expose-headers']?.[0]?.split(', ').sort()).toEqual(
      ['ETag', 'Idempotent-Replayed', 'Location', 'Retry-After', 'X-Request-Id'].sort(),
    );
    // preflight-only headers stay off an actual request
    expect(answer.headers['access-control-allow-methods']).toBeUndefined();
  });

  test('when an allowed origin gets a refusal from the gateway itself (401, 404), then it can still read it', async () => {
    const refused = await request(gateway.port, 'GET', '/payments', { origin: APP });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toEqual([APP]);
    expect(refused.headers['www-authenticate']).toEqual(['Bearer']);
    const missing = await request(gateway.port, 'GET', '/nowhere', { origin: APP });
    expect(missing.status).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toEqual([APP]);
  });

  test('when a disallowed origin calls a route, then the answer has no Access-Control-Allow-Origin', async () => {
    const answer = await request(gateway.port, 'GET', '/payments', {
      origin: 'https://evil.example',
      authorization: `Bearer ${GOOD_TOKEN}`,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    expect(answer.headers['access-control-expose-headers']).toBeUndefined();
  });

  test('when OPTIONS comes without Access-Control-Request-Method, then it is no preflight: the route answers (401 without a credential)', async () => {
    const answer = await request(gateway.port, 'OPTIONS', '/payments', { origin: APP });
    expect(answer.status).toBe(401);
  });
});

describe('CORS with no origins configured (the production default)', () => {
  test('when any origin sends a preflight or a request, then no Access-Control-Allow-Origin', async () => {
    const gateway = await startNginx('cors-none', {});
    try {
      const answer = await request(gateway.port, 'OPTIONS', '/payments', preflight(APP));
      expect(answer.status).toBe(204);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
      const plans = await request(gateway.port, 'GET', '/payments/plans', { origin: APP });
      expect(plans.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await gateway.stop();
    }
  });
});

describe('parseCorsOrigins (CORS_ALLOWED_ORIGINS)', () => {
  test('when given origins separated by commas or spaces, then each once', () => {
    expect(parseCorsOrigins(` ${APP}, https://app.meetmatt.ai  ${APP}`)).toEqual([
      APP,
      'https://app.meetmatt.ai',
    ]);
    expect(parseCorsOrigins('')).toEqual([]);
  });

  test.each(['*', 'localhost:5173', 'http://localhost:5173/', 'https://a.b/path', 'ftp://a.b'])(
    'when given %s, then it is refused as not an origin',
    (value) => {
      expect(() => parseCorsOrigins(value)).toThrow(/is not an origin/);
    },
  );
});

describe('CORS_ALLOWED_ORIGINS for npm start (development)', () => {
  test('when it is not set, then the Vite dev server on localhost and 127.0.0.1 is allowed', () => {
    expect(loadSystemConfig({}).CORS_ALLOWED_ORIGINS).toEqual([APP, 'http://127.0.0.1:5173']);
  });

  test('when it is set to none, then no origin is allowed; set to a wildcard, npm start refuses to begin', () => {
    expect(loadSystemConfig({ CORS_ALLOWED_ORIGINS: 'none' }).CORS_ALLOWED_ORIGINS).toEqual([]);
    expect(() => loadSystemConfig({ CORS_ALLOWED_ORIGINS: '*' })).toThrow(
      /CORS_ALLOWED_ORIGINS[\s\S]*is not an origin/,
    );
  });
});

describe("the gateway's headers on an authenticated route (real nginx)", () => {
  let gateway: Awaited<ReturnType<typeof startNginx>>;

  beforeAll(async () => {
    gateway = await startNginx('headers', {});
  });
  afterAll(() => gateway?.stop());

  test('when an authenticated request passes, then the response has one X-Request-Id, the one the service was given and the access log wrote', async () => {
    const answer = await request(gateway.port, 'GET', '/payments', {
      authorization: `Bearer ${GOOD_TOKEN}`,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-request-id']).toHaveLength(1);
    const requestId = answer.headers['x-request-id']![0]!;
    expect(requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.map((s) => s.headers['x-request-id'])).toEqual([requestId]);
    // nginx writes the line in its log phase, which may end after the client has the answer.
    await eventually('the access log line', () =>
      expect(
        gateway
          .accessLog()
          .filter((line) => line.uri === '/payments')
          .at(-1),
      ).toMatchObject({
        requestId,
        status: 200,
        userId: 'u-1',
      }),
    );
  });

  test("when the client sends a well-formed X-Request-Id, then that one is the service's and the response's", async () => {
    const answer = await request(gateway.port, 'GET', '/agents/a-1', {
      authorization: `Bearer ${GOOD_TOKEN}`,
      'x-request-id': 'client-trace-42',
    });
    expect(answer.headers['x-request-id']).toEqual(['client-trace-42']);
    expect(seen.map((s) => s.headers['x-request-id'])).toEqual(['client-trace-42']);
  });

  test('when an authenticated request passes, then the service gets X-Forwarded-* and the identity from /auth/verify', async () => {
    await request(gateway.port, 'GET', '/users/u-1', {
      authorization: `Bearer ${GOOD_TOKEN}`,
      host: 'api.meetmatt.test',
      'x-user-id': 'forged',
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'api.meetmatt.test',
      'x-forwarded-port': String(gateway.port),
      host: 'api.meetmatt.test',
      'x-user-id': 'u-1',
      'x-user-role': 'user',
    });
  });

  test('when authenticated requests follow one another, then they reuse one upstream connection (HTTP/1.1 keepalive)', async () => {
    for (let i = 0; i < 4; i++)
      expect(
        (await request(gateway.port, 'GET', '/payments', { authorization: `Bearer ${GOOD_TOKEN}` }))
          .status,
      ).toBe(200);
    expect(seen.map((s) => s.httpVersion)).toEqual(['1.1', '1.1', '1.1', '1.1']);
    expect(seen.map((s) => s.headers.connection)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(new Set(seen.map((s) => s.socket)).size).toBe(1);
  });

  test('when a public route is called, then it gets the same headers (the control)', async () => {
    const answer = await request(gateway.port, 'GET', '/payments/plans', {});
    expect(answer.headers['x-request-id']).toHaveLength(1);
    expect(seen[0]!.headers['x-request-id']).toBe(answer.headers['x-request-id']![0]);
    expect(seen[0]!.headers['x-forwarded-proto']).toBe('http');
  });

  test('when the notification stream is opened with a ticket, then the query reaches user-service without a call to /auth/verify, and the access log leaves the ticket out', async () => {
    const ticket = 'st_secret-ticket-value';
    const answer = await request(gateway.port, 'GET', `/notifications/stream?ticket=${ticket}`, {});
    expect(answer.status).toBe(200);
    expect(verifyCalls).toBe(0);
    expect(seen.map((s) => s.url)).toEqual([`/notifications/stream?ticket=${ticket}`]);
    expect(readFileSync(path.join(workDir, 'headers', 'access.log'), 'utf8')).not.toContain(ticket);
  });

  test('when the ticket is asked for, then that route is authenticated', async () => {
    expect((await request(gateway.port, 'POST', '/notifications/stream-ticket', {})).status).toBe(
      401,
    );
    expect(
      (
        await request(gateway.port, 'POST', '/notifications/stream-ticket', {
          authorization: `Bearer ${GOOD_TOKEN}`,
        })
      ).status,
    ).toBe(200);
    expect(seen.map((s) => s.headers['x-user-id'])).toEqual(['u-1']);
  });
});
