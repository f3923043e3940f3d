import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { type Logger } from '../logging/logger';
import { destroySocket } from './dedicated-client';

/**
 * int8 columns come back as numbers: counts, revisions and amounts in minor units all fit in 2^53.
 * Event-store positions, which may not, are selected as text explicitly.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === (pg.types.builtins.INT8 as number)) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

export interface DatabaseOptions {
  url: string;
  logger?: Logger;
  /** Pool size; two cores do not gain from more than a handful of connections per service. */
  max?: number;
  applicationName?: string;
  /** Server-side bound on one statement (0 turns it off, for migrations). */
  statementTimeoutMs?: number;
  /** Server-side bound on waiting for a lock (row, table or advisory). */
  lockTimeoutMs?: number;
  /** A transaction left open and idle this long is ended by the server, releasing its locks. */
  idleInTransactionTimeoutMs?: number;
  /** How long a request waits for a free connection before it fails (and answers 503). */
  connectionTimeoutMs?: number;
  /** Beyond the statement timeout, how long the client waits for any answer (see below). */
  readGraceMs?: number;
}

/** Defaults chosen so that nothing waits forever and a request budget of 15 s can still answer. */
export const databaseTimeoutDefaults = {
  statementTimeoutMs: 10_000,
  lockTimeoutMs: 5_000,
  idleInTransactionTimeoutMs: 30_000,
  connectionTimeoutMs: 3_000,
};

/**
 * Beyond the statement timeout, how long the client waits for an answer before it gives the
 * connection up: a server (or a proxy) that stopped answering never sends the statement
 * timeout's error, and the statement would otherwise hold its connection forever.
 */
const READ_GRACE_MS = 5_000;

export interface Database<DB = unknown> {
  pool: pg.Pool;
  db: Kysely<DB>;
  url: string;
  /** Resolves when a round trip succeeds within `timeoutMs`; rejects with the reason otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  close(timeoutMs?: number): Promise<void>;
}

export function createPool(options: DatabaseOptions): pg.Pool {
  const statementTimeoutMs =
    options.statementTimeoutMs ?? databaseTimeoutDefaults.statementTimeoutMs;
  const lockTimeoutMs = options.lockTimeoutMs ?? databaseTimeoutDefaults.lockTimeoutMs;
  const idleInTransactionTimeoutMs =
    options.idleInTransactionTimeoutMs ?? databaseTimeoutDefaults.idleInTransactionTimeoutMs;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis:
      options.connectionTimeoutMs ?? databaseTimeoutDefaults.connectionTimeoutMs,
    application_name: options.applicationName,
    // 0 (off) is sent as such: a pool without timeouts says so explicitly (migrations).
    statement_timeout: statementTimeoutMs,
    lock_timeout: lockTimeoutMs,
    idle_in_transaction_session_timeout: idleInTransactionTimeoutMs,
    ...(statementTimeoutMs > 0
      ? { query_timeout: statementTimeoutMs + (options.readGraceMs ?? READ_GRACE_MS) }
      : {}),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    types,
  });
  guardConnections(pool, options.logger);
  return pool;
}

/**
 * The pool listens for errors on idle clients only. A client checked out when its connection
 * drops (the server terminated it, a failover) emits 'error' with nobody listening, which would
 * crash the process; the statement in progress fails on its own, so a log line is enough. A
 * client handed back while its statement is still unanswered (the client-side read timeout
 * gave up on it) would block every later statement on it: its connection is cut, so the pool
 * drops it.
 */
function guardConnections(pool: pg.Pool, logger: Logger | undefined): void {
  // An idle client's lost connection is re-emitted by the pool itself: unheard, it would crash.
  pool.on('error', (error) =>
    logger?.warn('idle database connection lost', { error: error.message }),
  );
  pool.on('connect', (client) => {
    client.on('error', (error) =>
      logger?.warn('database connection lost', { error: error.message }),
    );
  });
  pool.on('release', (_error: Error | undefined, client: pg.PoolClient) => {
    if ((client as unknown as { _activeQuery?: unknown })._activeQuery) {
      logger?.warn('database connection abandoned: a statement got no answer');
      destroySocket(client);
    }
  });
}

export function createDatabase<DB = unknown>(options: DatabaseOptions): Database<DB> {
  const pool = createPool(options);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  return {
    pool,
    db,
    url: options.url,
    async ping(timeoutMs = 1_500) {
      await withTimeout(pool.query('SELECT 1'), timeoutMs, 'database did not answer');
    },
    async close(timeoutMs = 5_000) {
      if (closed) return;
      closed = true;
      // pool.end() waits for checked-out clients; one stuck on a dead server must not hold
      // shutdown, so after the bound the pool is left to the process exit.
      await withTimeout(db.destroy(), timeoutMs, 'database pool did not close').catch(
        (error: Error) => options.logger?.warn(error.message),
      );
    },
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The database name in a PostgreSQL URL. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`no database name in ${redactUrl(url)}`);
  return name;
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable url)';
  }
}

async function withAdminClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: withDatabase(url, 'postgres'),
    connectionTimeoutMillis: 5_000,
    statement_timeout: 30_000,
    query_timeout: 35_000,
  });
  // A connection lost between statements must fail the statement, not the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` unless it exists. Safe to race. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withAdminClient(url, async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      // 42P04 duplicate_database; 23505 when two creators race on the catalog.
      if (code === '42P04' || code === '23505') return false;
      throw error;
    }
  });
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await withAdminClient(url, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  });
}

export { sql };
