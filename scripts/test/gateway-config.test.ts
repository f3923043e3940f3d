import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type GatewayOptions, gatewayValues, renderGateway } from '../src/lib/gateway';
import { ensureNginx } from '../src/lib/nginx';

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
    expect(files['locations.conf']).toContain('proxy_set_header Host $host;');
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
        'tls.conf',
      ]);
    },
  );
});
