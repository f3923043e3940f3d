/**
 * A relay in a process of its own, for the crash test: it publishes and gets the broker's
 * confirms as usual, but its checkpoint store announces each save on stdout and then never
 * finishes it, so the parent can SIGKILL the process exactly between the confirms and the
 * checkpoint. Run with tsx: DATABASE_URL and RABBITMQ_URL say where.
 */
import {
  BrokerConnection,
  CheckpointStore,
  type Position,
  PostgresEventStore,
  Relay,
  createDatabase,
  createLogger,
  formatPosition,
} from '@meetmatt/infra';

class StallingCheckpoints extends CheckpointStore {
  override async save(name: string, position: Position): Promise<void> {
    process.stdout.write(`saving ${name} ${formatPosition(position)}\n`);
    await new Promise<never>(() => undefined);
  }
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL!;
  const logger = createLogger({ service: 'relay-child', level: 'warn' });
  const database = createDatabase({ url: databaseUrl, max: 4 });
  const store = new PostgresEventStore({ pool: database.pool, connectionString: databaseUrl });
  const broker = new BrokerConnection({
    url: process.env.RABBITMQ_URL!,
    logger,
    name: 'relay-child',
  });
  await broker.start();
  const relay = new Relay({
    service: process.env.SOURCE!,
    exchange: process.env.EXCHANGE!,
    eventStore: store,
    checkpoints: new StallingCheckpoints(database.pool),
    broker,
    databaseUrl,
    logger,
    leaderRetryMs: 100,
  });
  relay.start();
  process.stdout.write('started\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`relay child failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
