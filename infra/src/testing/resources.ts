import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
  const name = `mm_${prefix}_${randomSuffix()}`;
  const base = new URL(testServers.rabbitmqUrl);
  const user = decodeURIComponent(base.username || 'guest');
  await vhostAdmin('add', name, user);
  const url = new URL(testServers.rabbitmqUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return { name, url: url.toString(), drop: () => vhostAdmin('delete', name, user) };
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
