import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type GatewayOptions, gatewayValues, renderGateway } from '../src/lib/gateway';
import { ensureNginx } from '../src/lib/nginx';
import { untilAnswering } from '@meetmatt/infra/testing';

const root = path.resolve(__dirname, '..', '..');
const templates = path.join(root, 'infra', 'gateway');
const entrypoint = path.join(templates, 'docker-entrypoint.sh');

let nginx: string;
let workDir: string;
let tls: { certFile: string; keyFile: string };

beforeAll(() => {
  nginx = ensureNginx(() => undefined);
  workDir = mkdtempSync(path.join(os.tmpdir(), 'meetmatt-gateway-config-'));
  tls = { certFile: path.join(workDir, 'cert.pem'), keyFile: path.join(workDir, 'key.pem') };
  const openssl = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      tls.keyFile,
      '-out',
      tls.certFile,
    ],
    { encoding: 'utf8' },
  );
  expect([openssl.status, openssl.stderr]).toEqual([0, expect.any(String)]);
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function runDir(name: string): string {
  return path.join(workDir, name);
}

/** `nginx -t` on a rendered configuration: its exit status and what it said. */
function nginxTest(dir: string, conf: string): { status: number | null; output: string } {
  const result = spawnSync(nginx, ['-t', '-p', dir, '-c', conf], { encoding: 'utf8' });
  return { status: result.status, output: result.stderr };
}

function npmStartOptions(dir: string, withTls: boolean): GatewayOptions {
  return {
    listen: '127.0.0.1:18080',
    runDir: dir,
    upstreams: {
      user: ['127.0.0.1:13002'],
      payment: ['127.0.0.1:13001', '127.0.0.1:14001'],
      brain: ['127.0.0.1:13003'],
    },
    ...(withTls ? { tls: { listen: '127.0.0.1:18443', ...tls } } : {}),
    corsOrigins: ['http://localhost:5173', 'http://127.0.0.1:5173'],
  };
}

/**
 * Runs the container's entry point with `--check`: renders with envsubst, then `nginx -t`. Only
 * the variables given are set (plus PATH to find nginx), so the script's own defaults apply.
 * stdout is a file, as in a container, because the default access log is /dev/stdout.
 */
function runEntrypoint(dir: string, variables: Record<string, string>) {
  const stdout = openSync(path.join(workDir, `${path.basename(dir)}.stdout`), 'w');
  try {
    const result = spawnSync('sh', [entrypoint, '--check'], {
      env: {
        PATH: `${path.dirname(nginx)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        GATEWAY_TEMPLATES: templates,
        GATEWAY_RUN_DIR: dir,
        ...variables,
      },
      stdio: ['ignore', stdout, 'pipe'],
      encoding: 'utf8',
    });
    return { status: result.status, output: result.stderr };
  } finally {
    closeSync(stdout);
  }
}

/** Compose hostnames do not resolve here, and nginx resolves upstreams while checking. */
const localUpstreams = {
  USER_UPSTREAM_SERVERS: 'server 127.0.0.1:13002 max_fails=3 fail_timeout=5s;',
  PAYMENT_UPSTREAM_SERVERS: 'server 127.0.0.1:13001 max_fails=3 fail_timeout=5s;',
  BRAIN_UPSTREAM_SERVERS: 'server 127.0.0.1:13003 max_fails=3 fail_timeout=5s;',
};

function renderedFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.conf')))
    files[name] = readFileSync(path.join(dir, name), 'utf8');
  return files;
}

describe('gateway configuration rendered by npm start (scripts/src/lib/gateway.ts)', () => {
  test('when rendered without TLS, then nginx -t accepts it and TLS is left out', () => {
    const dir = runDir('npm-start-plain');
    const conf = renderGateway(npmStartOptions(dir, false));
    const check = nginxTest(dir, conf);
    expect(check).toEqual({ status: 0, output: expect.stringContaining('test is successful') });
    const files = renderedFiles(dir);
    expect(files['nginx.conf']).toContain('listen 127.0.0.1:18080;');
    expect(files['nginx.conf']).toContain('server 127.0.0.1:14001 max_fails=3 fail_timeout=5s;');
    expect(files['tls.conf']).not.toContain('ssl_certificate');
    expect(Object.values(files).join('\n')).not.toMatch(/\$\{[A-Z0-9_]+\}/);
  });

  test('when rendered with TLS files, then nginx -t loads the certificate and accepts it', () => {
    const dir = runDir('npm-start-tls');
    const conf = renderGateway(npmStartOptions(dir, true));
    const check = nginxTest(dir, conf);
    expect(check).toEqual({ status: 0, output: expect.stringContaining('test is successful') });
    const tlsConf = readFileSync(path.join(dir, 'tls.conf'), 'utf8');
    expect(tlsConf).toContain('listen 127.0.0.1:18443 ssl');
    expect(tlsConf).toContain(`ssl_certificate ${tls.certFile};`);
    expect(tlsConf).toContain(`ssl_certificate_key ${tls.keyFile};`);
  });

  test('when the TLS files do not exist, then nginx -t refuses the configuration', () => {
    // The control for the test above: nginx -t does read the certificate.
    const dir = runDir('npm-start-missing-tls');
    const options = npmStartOptions(dir, true);
    const missing = path.join(workDir, 'missing.pem');
    const conf = renderGateway({ ...options, tls: { ...options.tls!, certFile: missing } });
    const check = nginxTest(dir, conf);
    expect(check.status).not.toBe(0);
    expect(check.output).toContain(missing);
  });
});

describe('gateway configuration rendered by the container entry point (docker-entrypoint.sh)', () => {
  test('when run with its defaults and local upstreams, then nginx -t accepts it', () => {
    const dir = runDir('entrypoint-defaults');
    const check = runEntrypoint(dir, localUpstreams);
    expect(check).toEqual({ status: 0, output: expect.stringContaining('test is successful') });
    const files = renderedFiles(dir);
    expect(files['nginx.conf']).toContain('listen 8080;');
    expect(files['nginx.conf']).toContain('access_log /dev/stdout json;');
    expect(files['nginx.conf']).toContain('rate=20r/s;');
    expect(files['tls.conf']).not.toContain('ssl_certificate');
    expect(Object.values(files).join('\n')).not.toMatch(/\$\{[A-Z0-9_]+\}/);
    // nginx's own variables pass through envsubst untouched
    expect(files['nginx.conf']).toContain('$http_x_request_id $request_id_out');
    expect(files['proxy-headers.conf']).toContain('proxy_set_header Host $host;');
    // no CORS origin unless CORS_ALLOWED_ORIGINS says so (production)
    expect(files['nginx.conf']).toMatch(
      /map \$http_origin \$cors_allow_origin \{\s*default "";\s*\}/,
    );
  });

  test('when CORS_ALLOWED_ORIGINS is set, then each origin is in the map; a path or wildcard is refused', () => {
    const dir = runDir('entrypoint-cors');
    const check = runEntrypoint(dir, {
      ...localUpstreams,
      CORS_ALLOWED_ORIGINS: 'https://app.meetmatt.ai, http://localhost:5173',
    });
    expect(check).toEqual({ status: 0, output: expect.stringContaining('test is successful') });
    const conf = renderedFiles(dir)['nginx.conf'];
    expect(conf).toContain('"https://app.meetmatt.ai" $http_origin;');
    expect(conf).toContain('"http://localhost:5173" $http_origin;');
    for (const bad of ['*', 'https://app.meetmatt.ai/', 'app.meetmatt.ai']) {
      const refused = runEntrypoint(runDir('entrypoint-cors-bad'), {
        ...localUpstreams,
        CORS_ALLOWED_ORIGINS: bad,
      });
      expect([bad, refused.status, refused.output]).toEqual([
        bad,
        1,
        expect.stringContaining('is not an origin'),
      ]);
    }
  });

  test('when TLS files are set, then nginx -t loads the certificate and accepts it', () => {
    const dir = runDir('entrypoint-tls');
    const check = runEntrypoint(dir, {
      ...localUpstreams,
      GATEWAY_TLS_CERT_FILE: tls.certFile,
      GATEWAY_TLS_KEY_FILE: tls.keyFile,
    });
    expect(check).toEqual({ status: 0, output: expect.stringContaining('test is successful') });
    const tlsConf = readFileSync(path.join(dir, 'tls.conf'), 'utf8');
    expect(tlsConf).toContain('listen 8443 ssl');
    expect(tlsConf).toContain(`ssl_certificate ${tls.certFile};`);
  });

  test.each([
    ['without', false],
    ['with', true],
  ])(
    'when given the values npm start renders with, %s TLS, then it writes the same files',
    (_, withTls) => {
      const dir = runDir(`same-values-${withTls}`);
      const options = npmStartOptions(dir, withTls);
      renderGateway(options);
      const fromNpmStart = renderedFiles(dir);
      const { GATEWAY_TLS_INCLUDE, ...values } = gatewayValues(options);
      expect(GATEWAY_TLS_INCLUDE).toBe(path.join(dir, 'tls.conf'));
      const check = runEntrypoint(dir, values);
      expect(check).toEqual({ status: 0, output: expect.stringContaining('test is successful') });
      expect(renderedFiles(dir)).toEqual(fromNpmStart);
      expect(Object.keys(fromNpmStart).sort()).toEqual([
        'authenticated.conf',
        'locations.conf',
        'nginx.conf',
        'proxy-headers.conf',
        'response-headers.conf',
        'tls.conf',
      ]);
    },
  );
});

/**
 * The gateway's rate limits, on real nginx in front of a stub user-service whose /auth/verify
 * accepts one token and one API key, so the test counts what reaches it.
 */
describe('gateway rate limits (real nginx, stub upstream)', () => {
  const GOOD_TOKEN = 'good.token-1';
  const GOOD_KEY = 'mm_goodkey';
  let stub: http.Server;
  let verifyCalls: string[];
  let upstream: string;

  beforeAll(async () => {
    verifyCalls = [];
    stub = http.createServer((req, res) => {
      if (req.url === '/auth/verify') {
        const apiKey = String(req.headers['x-api-key'] ?? '');
        const credential = `${apiKey}|${req.headers.authorization ?? ''}`;
        verifyCalls.push(credential);
        const valid =
          /^\s*mm_goodkey\s*\|/.test(credential) ||
          new RegExp(`^\\|\\s*bearer\\s+${GOOD_TOKEN.replace('.', '\\.')}\\s*$`, 'i').test(
            credential,
          );
        res.writeHead(
          valid ? 200 : 401,
          valid ? { 'x-user-id': 'u-1', 'x-user-role': 'user' } : {},
        );
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    upstream = `127.0.0.1:${(stub.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => stub?.close(resolve));
  });

  beforeEach(() => {
    verifyCalls = [];
  });

  /** nginx on a free port with these limits; resolves once it answers, with a stop function. */
  async function startNginx(name: string, limits: Partial<GatewayOptions>) {
    const port = await freePort();
    const dir = runDir(name);
    const conf = renderGateway({
      listen: `127.0.0.1:${port}`,
      runDir: dir,
      upstreams: { user: [upstream], payment: [upstream], brain: [upstream] },
      ...limits,
    });
    const child = spawn(nginx, ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await untilAnswering(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 10_000 });
    return {
      port,
      stop: async () => {
        child.kill('SIGTERM');
        await exited;
      },
    };
  }

  async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  /** A GET with headers exactly as given (node:http keeps tabs and inner spaces); its status. */
  function get(port: number, route: string, headers: Record<string, string>): Promise<number> {
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

  test('when 100 made-up tokens come from one address, then they meet 429 and most never reach /auth/verify', async () => {
    // The shipped defaults: what `npm start` and compose run with.
    const gateway = await startNginx('limits-junk', {});
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++)
        statuses.push(
          await get(gateway.port, '/payments', { authorization: `Bearer junk-${i}-${Date.now()}` }),
        );
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(20);
      expect(statuses.filter((s) => s !== 429 && s !== 401)).toEqual([]);
      expect(verifyCalls.length).toBeLessThan(80);
    } finally {
      await gateway.stop();
    }
  });

  test('when one token is spelled Bearer, bearer, with extra spaces or a tab, then every spelling draws from one bucket', async () => {
    // A generous address bucket, so only the per-credential one can say 429 here.
    const gateway = await startNginx('limits-spellings', {
      userRate: '1r/m',
      userBurst: 3,
      addressRate: '1000r/s',
      addressBurst: 1000,
    });
    try {
      const spellings = [
        `Bearer ${GOOD_TOKEN}`,
        `bearer ${GOOD_TOKEN}`,
        `BEARER    ${GOOD_TOKEN}   `,
        `Bearer\t${GOOD_TOKEN}`,
      ];
      const statuses: number[] = [];
      for (const authorization of spellings)
        statuses.push(await get(gateway.port, '/payments', { authorization }));
      // burst 3 lets four through; a fifth spelling is the same person
      expect(statuses).toEqual([200, 200, 200, 200]);
      expect(
        await get(gateway.port, '/payments', { authorization: `bEaReR \t ${GOOD_TOKEN}` }),
      ).toBe(429);
      // another credential has its own bucket, and an API key counts the same whatever its spaces
      expect(await get(gateway.port, '/agents', { 'x-api-key': GOOD_KEY })).toBe(200);
      expect(await get(gateway.port, '/agents', { 'x-api-key': ` ${GOOD_KEY}\t` })).toBe(200);
    } finally {
      await gateway.stop();
    }
  });

  test('when the Authorization header is not one bearer credential, then 401 without a call to /auth/verify', async () => {
    const gateway = await startNginx('limits-malformed', {});
    try {
      for (const authorization of [
        'Basic dXNlcjpwYXNz',
        'Bearer',
        'Bearer a b',
        'Bearer a,b',
        'Token abc',
      ]) {
        expect([authorization, await get(gateway.port, '/payments', { authorization })]).toEqual([
          authorization,
          401,
        ]);
      }
      expect(await get(gateway.port, '/agents', { 'x-api-key': 'two keys' })).toBe(401);
      expect(verifyCalls).toEqual([]);
      // the control: a well-formed credential is asked about
      expect(await get(gateway.port, '/payments', { authorization: `Bearer ${GOOD_TOKEN}` })).toBe(
        200,
      );
      expect(verifyCalls).toHaveLength(1);
    } finally {
      await gateway.stop();
    }
  });
});
