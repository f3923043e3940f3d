import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { renderGateway } from '../src/lib/gateway';
import { ensureNginx } from '../src/lib/nginx';
import { untilAnswering } from '@meetmatt/infra/testing';

/**
 * The gateway is the only caller /auth/verify answers: real nginx, rendered as `npm start`
 * renders it, in front of a stub that records what each request carried.
 */
describe('gateway shared secret (real nginx, stub upstream)', () => {
  const SECRET = 'gateway-secret-for-this-test-0123456789';
  let workDir: string;
  let stub: http.Server;
  let seen: { url: string; secret: string | undefined }[];
  let port: number;
  let stopNginx: () => Promise<void>;

  function get(route: string, headers: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: route, headers, agent: false, timeout: 5_000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  beforeAll(async () => {
    const nginx = ensureNginx(() => undefined);
    workDir = mkdtempSync(path.join(os.tmpdir(), 'meetmatt-gateway-secret-'));
    seen = [];
    stub = http.createServer((req, res) => {
      const secret = req.headers['x-gateway-secret'];
      seen.push({ url: req.url ?? '', secret: typeof secret === 'string' ? secret : undefined });
      const fromGateway = req.url === '/auth/verify' && secret === SECRET;
      res.writeHead(
        req.url !== '/auth/verify' || fromGateway ? 200 : 404,
        fromGateway ? { 'x-user-id': 'u-1', 'x-user-role': 'user' } : {},
      );
      res.end('{}');
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    const upstream = `127.0.0.1:${(stub.address() as AddressInfo).port}`;
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const conf = renderGateway({
      listen: `127.0.0.1:${port}`,
      runDir: workDir,
      upstreams: { user: [upstream], payment: [upstream], brain: [upstream] },
      sharedSecret: SECRET,
    });
    const child = spawn(nginx, ['-p', workDir, '-c', conf, '-g', 'daemon off;'], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    stopNginx = async () => {
      child.kill('SIGTERM');
      await exited;
    };
    await untilAnswering(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 10_000 });
  });

  afterAll(async () => {
    await stopNginx?.();
    await new Promise((resolve) => stub?.close(resolve));
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    seen = [];
  });

  test('when a request passes the gateway, then its auth_request carries the shared secret, whatever the client sent', async () => {
    const status = await get('/payments', {
      authorization: 'Bearer some.jwt-token',
      'x-gateway-secret': 'made-up-by-the-client',
    });
    expect(status).toBe(200);
    const verify = seen.find((s) => s.url === '/auth/verify');
    expect(verify?.secret).toBe(SECRET);
  });

  test('when a client calls /auth/verify through the gateway, then it gets 404 and user-service is never asked', async () => {
    expect(await get('/auth/verify', { 'x-api-key': 'mm_abcdefgh_secret' })).toBe(404);
    expect(seen).toEqual([]);
  });
});
