import pg from 'pg';

export interface DedicatedClientOptions {
  connectionString: string;
  applicationName?: string;
  /** How long connecting may take. */
  connectTimeoutMs?: number;
  /** How long one statement may go unanswered before the client gives up on it. */
  queryTimeoutMs?: number;
}

/**
 * A connection of its own, outside the pool (LISTEN, session advisory locks). It never takes
 * the process down: its 'error' event always has a listener, even before its owner adds its
 * own, and its waits are bounded, so a server that stops answering fails it instead of hanging.
 */
export function dedicatedClient(options: DedicatedClientOptions): pg.Client {
  const client = new pg.Client({
    connectionString: options.connectionString,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    query_timeout: options.queryTimeoutMs ?? 10_000,
    ...(options.applicationName ? { application_name: options.applicationName.slice(0, 63) } : {}),
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * Ends `client` politely if the server answers within `timeoutMs`, otherwise cuts its socket:
 * end() waits for the server to close its side, which a hung server never does.
 */
export async function endClient(client: pg.Client, timeoutMs = 1_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      destroySocket(client);
      resolve();
    }, timeoutMs);
  });
  await Promise.race([client.end().catch(() => undefined), cut]);
  clearTimeout(timer);
}

/** Drops the connection at once; the client then emits 'error' and 'end' as for a lost one. */
export function destroySocket(client: pg.Client | pg.PoolClient): void {
  (
    client as unknown as { connection?: { stream?: { destroy(): void } } }
  ).connection?.stream?.destroy();
}
