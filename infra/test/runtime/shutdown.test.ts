import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { type TestDatabase, createTestDatabase, testServers } from '../../src/testing/resources';
import { TcpProxy } from '../../src/testing/tcp-proxy';
import { sleep } from '@meetmatt/infra/runtime/backoff';

const repoRoot = path.resolve(__dirname, '../../..');
const SHUTDOWN_TIMEOUT_MS = 4_000;

function startChild(env: Record<string, string>): {
  child: ChildProcess;
  ready: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  output: () => string;
} {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'hung-service-child.ts')],
    {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready:\n${output}`)), 20_000);
    child.on('message', (message: { type?: string; url?: string }) => {
      if (message.type === 'ready' && message.url) {
        clearTimeout(timer);
        resolve(message.url);
      }
    });
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, ready, exited, output: () => output };
}

describe('shutdown', () => {
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    testDb = await createTestDatabase('shutdown');
  });
  beforeEach(async () => {
    proxy = await TcpProxy.forUrl(testDb.url, 5432).start();
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    await proxy.stop();
  });
  afterAll(async () => {
    await testDb.drop();
  });

  test('when SIGTERM arrives while the database hangs under a request in flight, then the process still exits within SHUTDOWN_TIMEOUT_MS', async () => {
    const started = startChild({
      DATABASE_URL: proxy.url(testDb.url),
      RABBITMQ_URL: testServers.rabbitmqUrl,
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      REQUEST_TIMEOUT_MS: '0',
      DATABASE_STATEMENT_TIMEOUT_MS: '60000',
    });
    child = started.child;
    const url = await started.ready;
    // A request holding a pool connection, then a database that stops answering.
    const inFlight = fetch(`${url}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sql: 'SELECT pg_sleep(30)' }),
    }).then(
      (response) => response.status,
      () => 'cut',
    );
    await sleep(300);
    proxy.freeze();

    const signalledAt = Date.now();
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      started.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 25_000))),
    ]);
    clearTimeout(timer);

    expect(exit).toBeDefined();
    expect(exit!.at - signalledAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 1_500);
    expect(exit!.signal).toBeNull();
    expect(started.output()).toMatch(/stopping/);
    await inFlight;
  });

  test('when SIGTERM arrives with nothing hanging, then the process stops cleanly and exits 0 at once', async () => {
    const started = startChild({
      DATABASE_URL: testDb.url,
      RABBITMQ_URL: testServers.rabbitmqUrl,
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    });
    child = started.child;
    const url = await started.ready;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const exit = await started.exited;

    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(2_500);
    expect(started.output()).toMatch(/"message":"stopped"/);
  });
});
