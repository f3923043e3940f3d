import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { dropDatabase, ensureDatabase, withDatabase } from '../db/database';

const run = promisify(execFile);

/** The shared servers tests run against; the same variables `npm start` uses. */
export const testServers = {
  postgresUrl: process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  rabbitmqUrl: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  rabbitmqManagementUrl: process.env.RABBITMQ_MANAGEMENT_URL,
};

export function randomSuffix(): string {
  return randomBytes(5).toString('hex');
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh database on the shared server, named with a random suffix; `drop` removes it. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const url = withDatabase(testServers.postgresUrl, `mm_${prefix}_${randomSuffix()}`);
  await ensureDatabase(url);
  return { url, drop: () => dropDatabase(url) };
}

export interface TestVhost {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh RabbitMQ virtual host, so a test's exchanges and queues never meet another test's (or
 * a running `npm start`'s). Made with the management API when RABBITMQ_MANAGEMENT_URL is set,
 * otherwise with the local `rabbitmqctl`.
 */
export async function createTestVhost(prefix = 'test'): Promise<TestVhost> {
  const base = new URL(testServers.rabbitmqUrl);
  const user = decodeURIComponent(base.username || 'guest');
  const pooled = claimPooledVhost();
  const name = pooled ?? `mm_${prefix}_${randomSuffix()}`;
  if (!pooled) await vhostAdmin('add', name, user);
  const url = new URL(testServers.rabbitmqUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return { name, url: url.toString(), drop: () => vhostAdmin('delete', name, user) };
}

/**
 * A vhost `npm test` made in advance (TEST_VHOST_POOL: a directory with one empty file per vhost,
 * all made, with the permissions, by one `rabbitmqctl import_definitions`; see
 * scripts/src/lib/vhost-pool.ts): each rabbitmqctl call boots an Erlang VM, about a second of CPU,
 * and a test file makes a vhost per world. Claimed by deleting its file, which only one process
 * can do; never used before, so as fresh as one made now. None left: one is made as usual.
 */
function claimPooledVhost(): string | undefined {
  const pool = process.env.TEST_VHOST_POOL;
  if (!pool || testServers.rabbitmqManagementUrl) return undefined;
  let names: string[];
  try {
    names = readdirSync(pool);
  } catch {
    return undefined;
  }
  // From a random start, so workers seldom race for the same file.
  const start = Math.floor(Math.random() * names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[(start + i) % names.length]!;
    try {
      unlinkSync(path.join(pool, name));
      return name;
    } catch {
      // Claimed by another worker a moment ago.
    }
  }
  return undefined;
}

async function vhostAdmin(action: 'add' | 'delete', vhost: string, user: string): Promise<void> {
  const management = testServers.rabbitmqManagementUrl;
  if (management) {
    const api = new URL(management);
    const auth = `Basic ${Buffer.from(`${decodeURIComponent(api.username || 'guest')}:${decodeURIComponent(api.password || 'guest')}`).toString('base64')}`;
    api.username = '';
    api.password = '';
    const root = api.toString().replace(/\/$/, '');
    const v = encodeURIComponent(vhost);
    if (action === 'add') {
      await checked(
        fetch(`${root}/api/vhosts/${v}`, { method: 'PUT', headers: { authorization: auth } }),
      );
      await checked(
        fetch(`${root}/api/permissions/${v}/${encodeURIComponent(user)}`, {
          method: 'PUT',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ configure: '.*', write: '.*', read: '.*' }),
        }),
      );
    } else {
      await checked(
        fetch(`${root}/api/vhosts/${v}`, { method: 'DELETE', headers: { authorization: auth } }),
      );
    }
    return;
  }
  if (action === 'add') {
    await run('rabbitmqctl', ['add_vhost', vhost]);
    await run('rabbitmqctl', ['set_permissions', '-p', vhost, user, '.*', '.*', '.*']);
  } else {
    await run('rabbitmqctl', ['delete_vhost', vhost]).catch(() => undefined);
  }
}

async function checked(response: Promise<Response>): Promise<void> {
  const res = await response;
  if (!res.ok && res.status !== 404)
    throw new Error(`RabbitMQ management API answered ${res.status}`);
}
