import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Relay, comparePositions, parsePosition } from '@meetmatt/infra';
import {
  type MessagingWorld,
  TEST_EXCHANGE,
  TEST_SOURCE,
  appendOrders,
  counterValue,
  createWorld,
  effectCounts,
  inboxConsumer,
} from '../support/messaging';
import { eventually } from '@meetmatt/infra/testing';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

/**
 * The relay's process dies (SIGKILL, no cleanup) after the broker confirmed a batch and before
 * the checkpoint was written. The relay that takes over starts from the old checkpoint and
 * publishes the batch again; the consumer's inbox must absorb every duplicate. Serial because it
 * kills a process.
 */
describe('a relay killed between publish and checkpoint', () => {
  let world: MessagingWorld;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    world = await createWorld('crash');
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await world?.close();
  });

  function startChild(): {
    child: ChildProcess;
    lines: string[];
    exited: Promise<NodeJS.Signals | null>;
  } {
    const spawned = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'relay-child.ts')],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          DATABASE_URL: world.db.url,
          RABBITMQ_URL: world.vhost.url,
          SOURCE: TEST_SOURCE,
          EXCHANGE: TEST_EXCHANGE,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: string[] = [];
    createInterface({ input: spawned.stdout }).on('line', (line) => lines.push(line));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      spawned.on('exit', (_code, signal) => resolve(signal)),
    );
    return { child: spawned, lines, exited };
  }

  test('when the relay process is killed after the confirms and before its checkpoint, then its successor publishes the batch again and the inbox absorbs every duplicate', async () => {
    const broker = await world.connect();
    const queue = 'shop-test.crash';
    const consumer = inboxConsumer(world, broker, queue);
    consumer.start();
    await consumer.whenConsuming();
    const ids = await appendOrders(world.store, 40);

    const relayProcess = startChild();
    child = relayProcess.child;
    await eventually(
      'the child relay to reach its checkpoint',
      () => relayProcess.lines.some((l) => l.startsWith('saving ')),
      30_000,
    );
    // The broker confirmed the batch (the save comes only after the confirms): the consumer gets it.
    await eventually(
      'the first copies handled',
      async () => (await effectCounts(world)).size === 40,
    );
    child.kill('SIGKILL');
    expect(await relayProcess.exited).toBe('SIGKILL');
    const announced = relayProcess.lines.find((l) => l.startsWith('saving '))!.split(' ')[2]!;
    expect(comparePositions(parsePosition(announced), (await world.store.headPosition())!)).toBe(0);
    expect(await world.checkpoints.load('relay')).toBeUndefined();

    const successor = new Relay({
      service: TEST_SOURCE,
      exchange: TEST_EXCHANGE,
      eventStore: world.store,
      checkpoints: world.checkpoints,
      broker,
      databaseUrl: world.db.url,
      logger: world.logger,
      metrics: world.metrics,
      leaderRetryMs: 100,
    });
    successor.start();
    try {
      await eventually(
        'the duplicates absorbed',
        async () =>
          (await counterValue(world.metrics, 'bus_consumed_total', {
            queue,
            outcome: 'duplicate',
          })) === 40,
      );
      const effects = await effectCounts(world);
      expect(ids.filter((id) => effects.get(id) !== 1)).toEqual([]);
      expect(
        await counterValue(world.metrics, 'bus_consumed_total', { queue, outcome: 'handled' }),
      ).toBe(40);
      expect(successor.status().relayed).toBe(40);
      await eventually('the successor checkpointed', async () => {
        const saved = await world.checkpoints.load('relay');
        return !!saved && comparePositions(saved, parsePosition(announced)) === 0;
      });
    } finally {
      await successor.stop();
      await consumer.stop();
    }
  });
});
