import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import pg from 'pg';
import {
  type ServiceKey,
  queues,
  retryDelaysMs,
  retryQueueName,
  services,
} from '@meetmatt/contracts';
import { databaseName, failureExchangeName, sleep, withDatabase } from '@meetmatt/infra';
import { repoRoot } from './processes';

const run = promisify(execFile);

/** The PostgreSQL role and the RabbitMQ user one service connects as. */
export interface ServiceAccount {
  postgres: { role: string; password: string };
  rabbitmq: { user: string; password: string };
}

export type ServiceAccounts = Record<ServiceKey, ServiceAccount>;

const keys: ServiceKey[] = ['payment', 'user', 'brain'];

/** `meetmatt_payment`; the same name as the service's default database. */
export function postgresRole(key: ServiceKey): string {
  return `meetmatt_${key}`;
}

/** `payment-service`: the name its queues start with. */
export function rabbitmqUser(key: ServiceKey): string {
  return services[key].name;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

/**
 * What a service's broker user may do, as RabbitMQ's three regexes (each over exchange and
 * queue names). configure: its own queues and the failure exchanges under them, and the three
 * event exchanges (a consumer declares the exchange it binds to, in case its publisher has not
 * started yet; declaring an existing exchange needs configure). write: its own exchange, its
 * own queues (binding a queue needs write on the queue) and failure exchanges; never
 * `amq.default`, so it cannot drop a message into another service's queue, and never another
 * service's exchange. read: the event exchanges (binding needs read on the exchange) and its
 * own queues (consuming).
 */
export function rabbitmqPermissions(key: ServiceKey): {
  configure: string;
  write: string;
  read: string;
} {
  const own = `${escape(services[key].name)}\\..*`;
  const exchanges = keys.map((k) => escape(services[k].exchange)).join('|');
  return {
    configure: `^(${own}|${exchanges})$`,
    write: `^(${own}|${escape(services[key].exchange)})$`,
    read: `^(${own}|${exchanges})$`,
  };
}

/** The event type prefix of a service's exchange: `payment.` on payment.events, `agent.` on brain.events. */
export function eventTypePrefix(key: ServiceKey): string {
  return `${services[key].streamPrefix}.`;
}

/**
 * Topic permissions on each event exchange: a routing key (the event type) is written only by
 * the exchange's owner and only under its own prefix, and a queue is bound on an exchange only
 * to the types its owner publishes, so no consumer can be made to take `payment.confirmed`
 * from anywhere but payment.events.
 */
export function rabbitmqTopicPermissions(
  key: ServiceKey,
): { exchange: string; write: string; read: string }[] {
  return keys.map((owner) => ({
    exchange: services[owner].exchange,
    write: owner === key ? `^${escape(eventTypePrefix(owner))}` : '^$',
    read: `^${escape(eventTypePrefix(owner))}`,
  }));
}

const accountsFile = path.join(repoRoot, '.run', 'service-accounts.json');

function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The local accounts' passwords: made once per checkout (random, in .run/, readable by its owner
 * only) and reused, so a restart or a second `npm start` beside the first never changes a
 * password under a running service.
 */
export function localServiceAccounts(file = accountsFile): ServiceAccounts {
  const make = (): ServiceAccounts =>
    Object.fromEntries(
      keys.map((key) => [
        key,
        {
          postgres: { role: postgresRole(key), password: newPassword() },
          rabbitmq: { user: rabbitmqUser(key), password: newPassword() },
        },
      ]),
    ) as ServiceAccounts;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ServiceAccounts;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    // wx: when two runs start at once, the first file written wins and both read it.
    writeFileSync(file, JSON.stringify(make(), null, 2), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
  }
  return JSON.parse(readFileSync(file, 'utf8')) as ServiceAccounts;
}

/** `url` with the service's own credentials in place of the ones it had. */
export function withAccount(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/**
 * Creates (or updates) the service's PostgreSQL role, makes it the owner of the service's
 * database and of everything already in it (a database first migrated as the superuser), and
 * keeps every other role but the superusers out of the database.
 */
export async function ensurePostgresAccount(
  adminUrl: string,
  databaseUrl: string,
  account: ServiceAccount['postgres'],
): Promise<void> {
  const role = pg.escapeIdentifier(account.role);
  const database = databaseName(databaseUrl);
  const admin = new pg.Client({
    connectionString: withDatabase(adminUrl, 'postgres'),
    connectionTimeoutMillis: 5_000,
  });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [account.role]);
    if (!exists.rowCount) {
      await admin.query(`CREATE ROLE ${role} LOGIN`).catch((error: { code?: string }) => {
        // 42710 duplicate_object, 23505: another run created it at the same moment
        if (error.code !== '42710' && error.code !== '23505') throw error;
      });
    }
    await concurrently(() =>
      admin.query(
        `ALTER ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD ${pg.escapeLiteral(account.password)}`,
      ),
    );
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} OWNER TO ${role}`);
    await admin.query(`REVOKE ALL ON DATABASE ${pg.escapeIdentifier(database)} FROM PUBLIC`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const inside = new pg.Client({
    connectionString: withDatabase(adminUrl, database),
    connectionTimeoutMillis: 5_000,
  });
  await inside.connect();
  try {
    await inside.query(
      `DO $$
       DECLARE
         target oid := (SELECT oid FROM pg_roles WHERE rolname = ${pg.escapeLiteral(account.role)});
         r record;
       BEGIN
         FOR r IN SELECT nspname FROM pg_namespace
                  WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
                    AND nspowner <> target LOOP
           EXECUTE format('ALTER SCHEMA %I OWNER TO %s', r.nspname, ${pg.escapeLiteral(role)});
         END LOOP;
         FOR r IN SELECT n.nspname, c.relname, c.relkind FROM pg_class c
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                    AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                    AND c.relowner <> target
                    -- a serial or identity sequence follows its table
                    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                      AND d.deptype IN ('a', 'i')) LOOP
           EXECUTE format('ALTER %s %I.%I OWNER TO %s',
             CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                            WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
             r.nspname, r.relname, ${pg.escapeLiteral(role)});
         END LOOP;
       END $$`,
    );
  } finally {
    await inside.end().catch(() => undefined);
  }
}

/**
 * Two runs preparing at once (tests side by side) may alter the same role together, which
 * PostgreSQL answers with "tuple concurrently updated": the second tries again.
 */
async function concurrently<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const concurrent = /tuple concurrently updated/.test((error as Error).message);
      if (!concurrent || attempt >= attempts) throw error;
      await sleep(50 * attempt);
    }
  }
}

/** RabbitMQ's stored form of a password (rabbit_password_hashing_sha256). */
export function rabbitmqPasswordHash(password: string, salt = randomBytes(4)): string {
  const digest = createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/** The definitions (users, permissions, topic permissions, exchanges) for one virtual host. */
export function rabbitmqDefinitions(accounts: ServiceAccounts, vhost: string) {
  return {
    users: keys.map((key) => ({
      name: accounts[key].rabbitmq.user,
      password_hash: rabbitmqPasswordHash(accounts[key].rabbitmq.password),
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: [],
    })),
    permissions: keys.map((key) => ({
      user: accounts[key].rabbitmq.user,
      vhost,
      ...rabbitmqPermissions(key),
    })),
    topic_permissions: keys.flatMap((key) =>
      rabbitmqTopicPermissions(key).map((permission) => ({
        user: accounts[key].rabbitmq.user,
        vhost,
        ...permission,
      })),
    ),
    // Declared here, by the administrator, so each exists before any service binds to it.
    exchanges: keys.map((key) => ({
      name: services[key].exchange,
      vhost,
      type: 'topic',
      durable: true,
      auto_delete: false,
      internal: false,
      arguments: {},
    })),
  };
}

/** The virtual host an AMQP URL names (`/` when it names none). */
export function vhostOf(amqpUrl: string): string {
  const pathname = new URL(amqpUrl).pathname;
  return pathname.length > 1 ? decodeURIComponent(pathname.slice(1)) : '/';
}

/**
 * Creates the services' broker users with their permissions in the URL's virtual host, in one
 * import of definitions: through the management API when `managementUrl` is given, otherwise
 * with the local `rabbitmqctl`.
 */
export async function ensureRabbitmqAccounts(
  amqpUrl: string,
  accounts: ServiceAccounts,
  managementUrl?: string,
): Promise<void> {
  const definitions = rabbitmqDefinitions(accounts, vhostOf(amqpUrl));
  if (managementUrl) {
    const { root, auth } = managementApi(managementUrl);
    const res = await fetch(`${root}/api/definitions`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(definitions),
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) throw new Error(`RabbitMQ management API answered ${res.status}`);
    return;
  }
  const dir = mkdirTemp();
  const file = path.join(dir, 'definitions.json');
  try {
    writeFileSync(file, JSON.stringify(definitions), { mode: 0o644 });
    await run('rabbitmqctl', ['import_definitions', file], { timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mkdirTemp(): string {
  const dir = path.join(os.tmpdir(), `meetmatt-definitions-${randomBytes(6).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  // rabbitmqctl may read the file as the rabbitmq user
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Consumer and retry queues declared before the bus dead-lettered through each consumer's
 * failure exchange (they dead-letter through the default exchange, which the services' users
 * may not write to, and RabbitMQ refuses to redeclare a queue with other arguments) are deleted,
 * so the services declare them again as they are now. A consumer declares its failure exchange
 * before its queues, so a consumer queue without one is of the old layout. Local brokers only:
 * a deployment moves its queues first (README, "Security"). Parking queues keep their messages.
 */
export async function recreateOldLayoutQueues(
  amqpUrl: string,
  log: (line: string) => void,
): Promise<void> {
  const connection = await amqp.connect(amqpUrl, { timeout: 5_000 });
  connection.on('error', () => undefined);
  // A passive check that fails closes its channel: one channel per question.
  const exists = async (check: (channel: amqp.Channel) => Promise<unknown>) => {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      await check(channel);
      await channel.close();
      return true;
    } catch {
      return false;
    }
  };
  try {
    for (const queue of Object.values(queues)) {
      if (!(await exists((c) => c.checkQueue(queue)))) continue;
      if (await exists((c) => c.checkExchange(failureExchangeName(queue)))) continue;
      const channel = await connection.createChannel();
      try {
        for (const name of [queue, ...retryDelaysMs.map((d) => retryQueueName(queue, d))]) {
          if (name !== queue && !(await exists((c) => c.checkQueue(name)))) continue;
          const { messageCount } = await channel.deleteQueue(name);
          log(
            `deleted ${name} (${messageCount} messages), made before the services had their own broker users; its service declares it again`,
          );
        }
      } finally {
        await channel.close().catch(() => undefined);
      }
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}

function managementApi(managementUrl: string): { root: string; auth: string } {
  const api = new URL(managementUrl);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(api.username || 'guest')}:${decodeURIComponent(api.password || 'guest')}`).toString('base64')}`;
  api.username = '';
  api.password = '';
  return { root: api.toString().replace(/\/$/, ''), auth };
}
