import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { type ManagedProcess, repoRoot, startProcess } from './processes';

export interface GatewayOptions {
  /** `port` or `address:port` to listen on. */
  listen: string;
  /** Where the rendered configuration, pid file and temp files go. */
  runDir: string;
  upstreams: { user: string[]; payment: string[]; brain: string[] };
  /** e.g. '10r/s'. */
  authRate?: string;
  userRate?: string;
  /** Every authenticated request of one client address, whatever credential it carries. */
  addressRate?: string;
  webhookRate?: string;
  authBurst?: number;
  userBurst?: number;
  addressBurst?: number;
  webhookBurst?: number;
  accessLog?: string;
  tls?: { listen: string; certFile: string; keyFile: string };
  /** Sent to /auth/verify in X-Gateway-Secret (user-service's GATEWAY_SHARED_SECRET). */
  sharedSecret?: string;
  /** Browser origins allowed by CORS (CORS_ALLOWED_ORIGINS); none when left out. */
  corsOrigins?: string[];
}

const templateDir = path.join(repoRoot, 'infra', 'gateway');

/** Fills `${NAME}` placeholders; every placeholder must be known (nginx's own `$names` are left alone). */
export function renderTemplate(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`gateway template: no value for \${${name}}`);
    return value;
  });
}

/**
 * CORS_ALLOWED_ORIGINS (comma or space separated) as a list of origins; each must be exactly an
 * origin (scheme, host, optional port: no path, no wildcard), since nginx compares it as a string.
 */
export function parseCorsOrigins(value: string): string[] {
  const origins = value.split(/[\s,]+/).filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin)
      throw new Error(
        `CORS_ALLOWED_ORIGINS: ${JSON.stringify(origin)} is not an origin such as http://localhost:5173`,
      );
  }
  return [...new Set(origins)];
}

/** The lines of the $cors_allow_origin map (nginx.conf): each allowed origin is echoed back. */
export function corsOriginMap(origins: string[]): string {
  return origins.map((origin) => `"${origin}" $http_origin;`).join('\n    ');
}

export function gatewayValues(options: GatewayOptions): Record<string, string> {
  const servers = (list: string[]) =>
    list.map((address) => `server ${address} max_fails=3 fail_timeout=5s;`).join('\n    ');
  const tlsInclude = path.join(options.runDir, 'tls.conf');
  return {
    GATEWAY_RUN_DIR: options.runDir,
    GATEWAY_CONF_DIR: options.runDir,
    GATEWAY_ERROR_LOG: 'stderr',
    // A file, not /dev/stdout: a child's stdout here is a socket, which nginx cannot open.
    GATEWAY_ACCESS_LOG: options.accessLog ?? path.join(options.runDir, 'access.log'),
    GATEWAY_LISTEN: options.listen,
    GATEWAY_AUTH_RATE: options.authRate ?? '10r/s',
    GATEWAY_USER_RATE: options.userRate ?? '20r/s',
    GATEWAY_ADDRESS_RATE: options.addressRate ?? '30r/s',
    GATEWAY_WEBHOOK_RATE: options.webhookRate ?? '50r/s',
    GATEWAY_AUTH_BURST: String(options.authBurst ?? 20),
    GATEWAY_USER_BURST: String(options.userBurst ?? 40),
    GATEWAY_ADDRESS_BURST: String(options.addressBurst ?? 60),
    GATEWAY_WEBHOOK_BURST: String(options.webhookBurst ?? 100),
    USER_UPSTREAM_SERVERS: servers(options.upstreams.user),
    PAYMENT_UPSTREAM_SERVERS: servers(options.upstreams.payment),
    BRAIN_UPSTREAM_SERVERS: servers(options.upstreams.brain),
    GATEWAY_TLS_INCLUDE: tlsInclude,
    GATEWAY_TLS_LISTEN: options.tls?.listen ?? '443',
    GATEWAY_TLS_CERT_FILE: options.tls?.certFile ?? '',
    GATEWAY_TLS_KEY_FILE: options.tls?.keyFile ?? '',
    GATEWAY_SHARED_SECRET: options.sharedSecret ?? '',
    GATEWAY_CORS_ORIGINS: corsOriginMap(options.corsOrigins ?? []),
  };
}

/** Writes nginx.conf and its includes into `runDir`; returns the path of nginx.conf. */
export function renderGateway(options: GatewayOptions): string {
  mkdirSync(options.runDir, { recursive: true });
  // nginx workers run as an unprivileged user when the master is root: they must be able to
  // write their temp files.
  for (const temp of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    const dir = path.join(options.runDir, temp);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o1777);
  }
  const values = gatewayValues(options);
  for (const file of readdirSync(templateDir).filter((f) => f.endsWith('.template'))) {
    const name = file.replace(/\.template$/, '');
    if (name === 'tls.conf' && !options.tls) {
      writeFileSync(
        path.join(options.runDir, name),
        '# TLS is off: set GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE\n',
      );
      continue;
    }
    writeFileSync(
      path.join(options.runDir, name),
      renderTemplate(readFileSync(path.join(templateDir, file), 'utf8'), values),
    );
  }
  return path.join(options.runDir, 'nginx.conf');
}

/** Starts nginx in the foreground on the rendered configuration, and follows its access log. */
export function startGateway(
  nginxBinary: string,
  options: GatewayOptions,
  index = 3,
  echoAccessLog = true,
): ManagedProcess {
  const conf = renderGateway(options);
  const accessLog = gatewayValues(options).GATEWAY_ACCESS_LOG!;
  writeFileSync(accessLog, '');
  const gateway = startProcess(
    'gateway',
    nginxBinary,
    ['-p', options.runDir, '-c', conf, '-g', 'daemon off;'],
    process.env,
    index,
  );
  if (echoAccessLog) {
    const stop = followFile(accessLog, (line) =>
      process.stdout.write(`${'gateway'.padEnd(16)}| ${line}\n`),
    );
    void gateway.exited.then(stop);
  }
  return gateway;
}

/** Prints lines appended to a file, until the returned function is called. */
function followFile(file: string, onLine: (line: string) => void): () => void {
  let offset = 0;
  let partial = '';
  const timer = setInterval(() => {
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size <= offset) return;
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    closeSync(fd);
    offset = size;
    const lines = (partial + buffer.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    lines.filter(Boolean).forEach(onLine);
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}
