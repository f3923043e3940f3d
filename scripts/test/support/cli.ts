import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { type ServiceKey } from '@meetmatt/contracts';
import {
  type Database,
  type NewEvent,
  PostgresEventStore,
  type RecordedEvent,
  createDatabase,
  migrateAll,
} from '@meetmatt/infra';
import {
  type TestDatabase,
  type TestVhost,
  createTestDatabase,
  createTestVhost,
} from '@meetmatt/infra/testing';
import { compiledCli } from './compiled-cli';

const root = path.resolve(__dirname, '..', '..', '..');
export const cliEntry = path.join(root, 'scripts', 'src', 'cli', 'main.ts');
export const cliBin = path.join(root, 'scripts', 'bin', 'meetmatt.js');

/**
 * What runs `meetmatt` in these tests: node on the compiled bundle (support/compiled-cli.ts).
 * The tests of bin/meetmatt.js itself (tsx on cliEntry, as operators run it) pass `[cliBin]`.
 */
export function cliLauncher(): string[] {
  return [compiledCli()];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a CLI process gets: the test's databases and vhost, nothing inherited that could point elsewhere. */
export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.EVENTSTORE_URL;
  // `npm test` sets FORCE_COLOR=1 for jest's own output outside CI; inherited, it would win over
  // NO_COLOR and the CLI's tables would carry escape codes. A test that wants colour says so.
  if (extra.FORCE_COLOR === undefined) delete env.FORCE_COLOR;
  return env;
}

/** A running `meetmatt` process (node on the compiled CLI, unless another launcher is given). */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;
  private readonly child: ChildProcess;
  private listeners = new Set<() => void>();

  constructor(
    args: string[],
    env: NodeJS.ProcessEnv,
    launcher: { file: string; args: string[]; cwd?: string } = {
      file: process.execPath,
      args: cliLauncher(),
    },
  ) {
    this.child = spawn(launcher.file, [...launcher.args, ...args], {
      cwd: launcher.cwd ?? root,
      env,
      stdio: 'pipe',
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.listeners.forEach((l) => l());
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.listeners.forEach((l) => l());
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => resolve({ code, stdout: this.stdout, stderr: this.stderr }));
    });
  }

  write(text: string): void {
    this.child.stdin!.write(text);
  }

  endInput(): void {
    this.child.stdin!.end();
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves once stdout or stderr matches, or rejects at the deadline (or when the process ends first). */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const matched = () => pattern.test(this.stdout) || pattern.test(this.stderr);
    if (matched()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(
          new Error(
            `no ${pattern} within ${timeoutMs} ms; stdout: ${this.stdout}; stderr: ${this.stderr}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        if (!matched()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      this.listeners.add(check);
      void this.exited.then(() => {
        if (matched()) return;
        clearTimeout(timer);
        reject(
          new Error(`exited before ${pattern}; stdout: ${this.stdout}; stderr: ${this.stderr}`),
        );
      });
    });
  }
}

/** Runs one command to the end. `input` is written to its stdin (a pipe: not a terminal). */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const cli = new CliProcess(args, env);
  if (options.input !== undefined) cli.write(options.input);
  cli.endInput();
  const timer = setTimeout(() => cli.signal('SIGKILL'), options.timeoutMs ?? 60_000);
  const result = await cli.exited;
  clearTimeout(timer);
  return result;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests assert the shape they read
export type Json = any;

/** Parses stdout as JSON, saying what was printed when it is not. */
export function jsonOf<T = Json>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

/** What a failing command printed: exactly one line on stderr, nothing on stdout. */
export function failureLine(result: CliResult): string {
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

export interface ServiceStore {
  key: ServiceKey;
  database: Database;
  store: PostgresEventStore;
  url: string;
}

/**
 * Three empty service databases (migrated with infra's tables: the event store, projections,
 * inbox, checkpoints) and a RabbitMQ vhost, the way the CLI finds them through the variables
 * npm start uses.
 */
export interface CliFixture {
  env: NodeJS.ProcessEnv;
  vhost: TestVhost;
  services: Record<ServiceKey, ServiceStore>;
  drop(): Promise<void>;
}

export async function createCliFixture(prefix: string): Promise<CliFixture> {
  const keys: ServiceKey[] = ['payment', 'user', 'brain'];
  const [vhost, ...databases] = await Promise.all([
    createTestVhost(prefix),
    ...keys.map((key) => createTestDatabase(`${prefix}_${key}`)),
  ]);
  const services = {} as Record<ServiceKey, ServiceStore>;
  await Promise.all(
    keys.map(async (key, i) => {
      const url = (databases[i] as TestDatabase).url;
      const database = createDatabase({ url, max: 4 });
      await migrateAll(database.db, {});
      const store = new PostgresEventStore({ pool: database.pool, connectionString: url });
      services[key] = { key, database, store, url };
    }),
  );
  return {
    vhost,
    services,
    env: cliEnv({
      PAYMENT_DATABASE_URL: services.payment.url,
      USER_DATABASE_URL: services.user.url,
      BRAIN_DATABASE_URL: services.brain.url,
      RABBITMQ_URL: vhost.url,
    }),
    async drop() {
      for (const s of Object.values(services)) {
        await s.store.close();
        await s.database.close();
      }
      await Promise.all([...databases.map((d) => d.drop()), vhost.drop()]);
    },
  };
}

/** An event to append: fresh ids, a correlation id of the caller's choosing. */
export function newEvent(
  type: string,
  data: unknown,
  metadata: { correlationId?: string; causationId?: string } = {},
): NewEvent {
  const id = randomUUID();
  return {
    id,
    type,
    data,
    metadata: {
      correlationId: metadata.correlationId ?? randomUUID(),
      causationId: metadata.causationId ?? id,
      schemaVersion: 1,
    },
  };
}

export async function appendAll(
  store: PostgresEventStore,
  streamId: string,
  events: NewEvent[],
): Promise<RecordedEvent[]> {
  await store.appendToStream(streamId, events, { expectedRevision: 'any' });
  return store.readStream(streamId);
}

/** Runs a command on a pseudo-terminal (util-linux `script`), typing `input` once its question shows. */
export async function runOnTerminal(
  args: string[],
  env: NodeJS.ProcessEnv,
  input: string,
): Promise<CliResult> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, ...cliLauncher(), ...args].map(quote).join(' ');
  const cli = new CliProcess(['-qefc', command, '/dev/null'], env, { file: 'script', args: [] });
  await cli.waitFor(/\[y\/N\]/);
  cli.write(input);
  const result = await cli.exited;
  cli.endInput();
  return result;
}
