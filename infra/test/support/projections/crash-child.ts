/**
 * A service-like process that runs the accounts projection with a slowed apply, for the crash
 * test to kill with SIGKILL while a batch transaction is open:
 *
 *   node --import tsx crash-child.ts <database url> <batch size> <pause ms>
 *
 * Halfway through every batch it prints `mid-batch <n>` and pauses, its transaction open.
 */
// From the sources rather than '@meetmatt/infra', whose whole import graph takes seconds to load.
import { createDatabase } from '../../../src/db/database';
import { PostgresEventStore } from '../../../src/event-store/postgres/postgres-event-store';
import { ProjectionRunner } from '../../../src/projections/runner';
import { sleep } from '../../../src/runtime/backoff';
import { accountsProjection } from './accounts';

async function main(): Promise<void> {
  const [url, batchSize, pauseMs] = process.argv.slice(2);
  if (!url || !batchSize || !pauseMs) throw new Error('usage: crash-child <url> <batch> <pause>');
  const database = createDatabase({ url, applicationName: 'projection-crash-child' });
  const store = new PostgresEventStore({ pool: database.pool, connectionString: url });
  let batches = 0;
  const projection = accountsProjection({
    batchSize: Number(batchSize),
    async beforeEvent(_event, index, batch) {
      if (index !== Math.floor(batch.length / 2)) return;
      batches += 1;
      process.stdout.write(`mid-batch ${batches}\n`);
      // The slowed apply under test: the batch stays open while the parent decides to kill.
      await sleep(Number(pauseMs));
    },
  });
  const runner = new ProjectionRunner({
    db: database.db,
    store,
    connectionString: url,
    projection,
    leaderRetryMs: 50,
  });
  await runner.start();
  process.stdout.write('started\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
