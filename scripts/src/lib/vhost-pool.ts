/**
 * RabbitMQ vhosts made in advance for `npm test`. Without RABBITMQ_MANAGEMENT_URL every test vhost
 * costs three `rabbitmqctl` calls (add, permissions, delete), each booting an Erlang VM: about a
 * second of CPU and two of waiting, a hundred times a run. Here one `import_definitions` tops the
 * pool up with its permissions; infra's createTestVhost claims one (TEST_VHOST_POOL: one empty
 * file per vhost, deleted by the claimer, so two runs can share the pool) and drops it as before.
 * What a run leaves unclaimed stays, empty and unused, for the next run: deleting a vhost costs
 * the broker about as much as making it. The pool's vhosts are named mm_pool_*; with the files in
 * .run/test-vhosts/ gone they are only empty vhosts, and `rabbitmqctl delete_vhost` removes them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pollUntil } from '@meetmatt/infra';
import { repoRoot } from './processes';

const run = promisify(execFile);

async function rabbitmqctl(args: string[]): Promise<string> {
  return (await run('rabbitmqctl', args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

async function permittedVhosts(user: string): Promise<Set<string>> {
  const listed = await rabbitmqctl(['list_user_permissions', '--silent', user]);
  return new Set(listed.split('\n').map((line) => line.split('\t')[0]!));
}

/**
 * Tops the pool up to `size` vhosts for `rabbitmqUrl`'s user; resolves to its directory, or to
 * undefined (saying why) when the broker is administered through its management API or cannot be
 * reached with rabbitmqctl: the tests then make their own.
 */
export async function fillVhostPool(
  rabbitmqUrl: string,
  size: number,
  log: (line: string) => void,
): Promise<string | undefined> {
  if (process.env.RABBITMQ_MANAGEMENT_URL) return undefined;
  const dir = path.join(repoRoot, '.run', 'test-vhosts');
  mkdirSync(dir, { recursive: true });
  const user = decodeURIComponent(new URL(rabbitmqUrl).username || 'guest');
  let usable: Set<string>;
  try {
    usable = await permittedVhosts(user);
  } catch (error) {
    log(`test vhosts not made in advance (${(error as Error).message}); each test makes its own`);
    return undefined;
  }
  // A vhost deleted since (or made for another user) is no longer one to hand out.
  for (const name of readdirSync(dir))
    if (!usable.has(name)) rmSync(path.join(dir, name), { force: true });
  const missing = size - readdirSync(dir).length;
  if (missing <= 0) return dir;
  const names = Array.from({ length: missing }, () => `mm_pool_${randomBytes(5).toString('hex')}`);
  const definitions = path.join(tmpdir(), `meetmatt-vhost-pool-${process.pid}.json`);
  writeFileSync(
    definitions,
    JSON.stringify({
      vhosts: names.map((name) => ({ name })),
      permissions: names.map((vhost) => ({
        user,
        vhost,
        configure: '.*',
        write: '.*',
        read: '.*',
      })),
    }),
    { mode: 0o644 },
  );
  try {
    await rabbitmqctl(['import_definitions', definitions]);
    // The import finishes in the background: done once the user may use every one of them.
    const ready = await pollUntil(
      async () => {
        const vhosts = await permittedVhosts(user);
        return names.every((name) => vhosts.has(name));
      },
      { timeoutMs: 60_000, intervalMs: 250, maxIntervalMs: 1_000 },
    );
    if (!ready.passed) throw new Error(`the ${missing} vhosts were not all there within 60 s`);
  } catch (error) {
    log(`test vhosts not made in advance (${(error as Error).message}); each test makes its own`);
    return readdirSync(dir).length > 0 ? dir : undefined;
  } finally {
    rmSync(definitions, { force: true });
  }
  for (const name of names) writeFileSync(path.join(dir, name), '');
  return dir;
}
