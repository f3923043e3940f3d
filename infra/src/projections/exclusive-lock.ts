import pg from 'pg';
import { advisoryKey } from '../coordination/leader-lock';

export interface ExclusiveLock {
  /** Aborts when the lock's connection is lost (the server released the lock with it). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/**
 * A session advisory lock taken once, without waiting: for work only one process may do at a
 * time but nobody should queue for (a rebuild). The lock lives as long as its connection, so a
 * crashed holder frees it.
 */
export async function tryExclusiveLock(
  connectionString: string,
  key: string,
): Promise<ExclusiveLock | undefined> {
  const client = new pg.Client({
    connectionString,
    keepAlive: true,
    application_name: `lock:${key}`.slice(0, 63),
  });
  const controller = new AbortController();
  const onLost = () => controller.abort(new Error(`lock ${key} lost with its connection`));
  client.on('error', onLost);
  await client.connect();
  try {
    const [a, b] = advisoryKey(key);
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1, $2) AS locked',
      [a, b],
    );
    if (!rows[0]?.locked) {
      await client.end();
      return undefined;
    }
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  client.on('end', onLost);
  return {
    lost: controller.signal,
    async release() {
      client.off('end', onLost);
      await client.end().catch(() => undefined);
    },
  };
}
