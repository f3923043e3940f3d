import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { dropDatabase, withDatabase } from '@meetmatt/infra';
import {
  type TestVhost,
  createTestVhost,
  randomSuffix,
  testServers,
} from '@meetmatt/infra/testing';
import { pollUntil } from '@meetmatt/infra/runtime/poll';

const root = path.resolve(__dirname, '..', '..', '..');

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface TestSystem {
  gatewayUrl: string;
  /** The local SMTP server's reading side: GET /messages (scripts/src/lib/smtp-server.ts). */
  mailUrl: string;
  serviceUrls: { user: string; payment: string; brain: string };
  databases: { user: string; payment: string; brain: string };
  output(): string;
  query<T extends pg.QueryResultRow>(
    service: 'user' | 'payment' | 'brain',
    sql: string,
    params?: unknown[],
  ): Promise<T[]>;
  stop(): Promise<void>;
}

/**
 * The whole system as `npm start` runs it (sandboxes, three services, nginx), on free ports,
 * with its own databases and RabbitMQ vhost, so it runs beside other tests and a real `npm start`.
 */
export async function startSystem(extraEnv: Record<string, string> = {}): Promise<TestSystem> {
  const suffix = randomSuffix();
  const vhost: TestVhost = await createTestVhost('e2e');
  const ports = {
    gateway: await freePort(),
    payment: await freePort(),
    user: await freePort(),
    brain: await freePort(),
    mailSmtp: await freePort(),
    mailHttp: await freePort(),
  };
  const databases = {
    payment: withDatabase(testServers.postgresUrl, `mm_e2e_payment_${suffix}`),
    user: withDatabase(testServers.postgresUrl, `mm_e2e_user_${suffix}`),
    brain: withDatabase(testServers.postgresUrl, `mm_e2e_brain_${suffix}`),
  };
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [path.join(root, 'scripts', 'bootstrap.js'), 'start'],
    {
      cwd: root,
      env: {
        ...process.env,
        GATEWAY_PORT: String(ports.gateway),
        PAYMENT_SERVICE_PORT: String(ports.payment),
        USER_SERVICE_PORT: String(ports.user),
        BRAIN_SERVICE_PORT: String(ports.brain),
        NOWPAYMENTS_SANDBOX_PORT: String(await freePort()),
        DEVIN_SANDBOX_PORT: String(await freePort()),
        MAIL_SMTP_PORT: String(ports.mailSmtp),
        MAIL_HTTP_PORT: String(ports.mailHttp),
        NOWPAYMENTS_SANDBOX_STEP_MS: '25',
        DEVIN_SANDBOX_STEP_MS: '25',
        RABBITMQ_URL: vhost.url,
        PAYMENT_DATABASE_URL: databases.payment,
        USER_DATABASE_URL: databases.user,
        BRAIN_DATABASE_URL: databases.brain,
        LOG_LEVEL: 'warn',
        ...extraEnv,
      },
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const pools = new Map<string, pg.Pool>();

  const cleanup = async () => {
    await Promise.all([...pools.values()].map((p) => p.end()));
    await Promise.all(
      Object.values(databases).map((url) => dropDatabase(url).catch(() => undefined)),
    );
    await vhost.drop();
  };

  // Ends early when the child exits, ready or not.
  const ready = await pollUntil(() => child.exitCode !== null || output.includes('is ready'), {
    timeoutMs: 90_000,
    intervalMs: 200,
  });
  if (!ready.passed || child.exitCode !== null) {
    child.kill('SIGKILL');
    await cleanup();
    throw new Error(`the system did not start:\n${output.slice(-4000)}`);
  }

  const local = (port: number) => `http://127.0.0.1:${port}`;
  return {
    gatewayUrl: local(ports.gateway),
    mailUrl: local(ports.mailHttp),
    serviceUrls: {
      user: local(ports.user),
      payment: local(ports.payment),
      brain: local(ports.brain),
    },
    databases,
    output: () => output,
    async query(service, sql, params = []) {
      let pool = pools.get(service);
      if (!pool) {
        pool = new pg.Pool({ connectionString: databases[service], max: 2 });
        pools.set(service, pool);
      }
      return (await pool.query(sql, params)).rows as never[];
    },
    async stop() {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      await cleanup();
    },
  };
}
