import { advisoryKey } from '../coordination/leader-lock';
import { dedicatedClient, endClient } from '../db/dedicated-client';

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
  const client = dedicatedClient({ connectionString, applicationName: `lock:${key}` });
  const controller = new AbortController();
  const onLost = () => controller.abort(new Error(`lock ${key} lost with its connection`));
  client.on('error', onLost);
  try {
    await client.connect();
  } catch (error) {
    await endClient(client);
    throw error;
  }
  try {
    const [a, b] = advisoryKey(key);
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1, $2) AS locked',
      [a, b],
    );
    if (!rows[0]?.locked) {
      await endClient(client);
      return undefined;
    }
  } catch (error) {
    await endClient(client);
    throw error;
  }
  client.on('end', onLost);
  return {
    lost: controller.signal,
    async release() {
      client.off('end', onLost);
      await endClient(client);
    },
  };
}
