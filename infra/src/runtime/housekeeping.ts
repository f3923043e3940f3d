import { type Kysely, sql } from 'kysely';
import { LeaderLock } from '../coordination/leader-lock';
import { type Logger } from '../logging/logger';
import { sleep } from './backoff';

/** One kind of row that would otherwise pile up forever. */
export interface PruneTask {
  name: string;
  /** Deletes what has outlived its use as of `now`; resolves with how many rows went. */
  prune(now: Date): Promise<number>;
}

export interface HousekeepingOptions {
  /** The service's database: its advisory lock picks the one instance that prunes. */
  connectionString: string;
  logger: Logger;
  /** Time between rounds. */
  intervalMs: number;
  tasks?: PruneTask[];
  now?: () => Date;
  leaderRetryMs?: number;
}

/**
 * Runs prune tasks every `intervalMs` on the one instance holding the `housekeeping` lock
 * (whichever instance it is; leadership moves when it dies). A task that fails is logged and
 * tried again next round; the others still run.
 */
export class Housekeeping {
  private readonly tasks: PruneTask[];
  private readonly lock: LeaderLock;
  private running: Promise<void> | undefined;

  constructor(private readonly options: HousekeepingOptions) {
    this.tasks = [...(options.tasks ?? [])];
    this.lock = new LeaderLock({
      connectionString: options.connectionString,
      key: 'housekeeping',
      logger: options.logger,
      retryMs: options.leaderRetryMs ?? 10_000,
    });
  }

  /** Adds tasks; they run from the next round on. */
  add(...tasks: PruneTask[]): void {
    this.tasks.push(...tasks);
  }

  start(): void {
    this.running ??= this.lock.run((signal) => this.lead(signal));
  }

  async stop(): Promise<void> {
    await this.lock.stop();
    await this.running;
  }

  /** One round of every task, here and now (tests, the operator). */
  async runOnce(): Promise<Record<string, number>> {
    const now = (this.options.now ?? (() => new Date()))();
    const pruned: Record<string, number> = {};
    for (const task of this.tasks) {
      try {
        pruned[task.name] = await task.prune(now);
      } catch (error) {
        this.options.logger.warn('housekeeping task failed', {
          task: task.name,
          error: (error as Error).message,
        });
      }
    }
    const total = Object.values(pruned).reduce((sum, n) => sum + n, 0);
    if (total > 0) this.options.logger.info('housekeeping pruned rows', { pruned });
    return pruned;
  }

  private async lead(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.runOnce();
      await sleep(this.options.intervalMs, signal);
    }
  }
}

/**
 * Deletes the rows `where` selects from `table`, `batch` at a time, so no single statement
 * holds its locks long or runs into the statement timeout on a big backlog.
 */
export async function deleteInBatches(
  db: Kysely<unknown>,
  table: string,
  where: ReturnType<typeof sql>,
  batch = 1_000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await sql`
      DELETE FROM ${sql.table(table)} WHERE ctid IN (
        SELECT ctid FROM ${sql.table(table)} WHERE ${where} LIMIT ${batch})`.execute(db);
    const deleted = Number(result.numAffectedRows ?? 0);
    total += deleted;
    if (deleted < batch) return total;
  }
}

/** Inbox rows older than `retentionMs`: a redelivery that late is not expected any more. */
export function inboxPruneTask(db: Kysely<unknown>, retentionMs: number): PruneTask {
  return {
    name: 'inbox',
    prune: (now) =>
      deleteInBatches(db, 'inbox', sql`processed_at < ${new Date(now.getTime() - retentionMs)}`),
  };
}
