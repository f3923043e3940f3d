import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type BrokerConnection, type Consumer, Relay } from '@meetmatt/infra';
import {
  type MessagingWorld,
  TEST_EXCHANGE,
  TEST_SOURCE,
  appendOrder,
  createWorld,
  effectCounts,
  inboxConsumer,
  type testEvents,
} from '../support/messaging';
import { eventually } from '@meetmatt/infra/testing';
import { sleep } from '@meetmatt/infra/runtime/backoff';

/**
 * The broker itself (`rabbitmqctl stop_app` / `start_app`) goes away in the middle of a stream of
 * events and comes back: every event must be handled exactly once. It stops the broker for every
 * client on this machine, hence a serial test.
 *
 * BROKER_RESTART_ROUNDS repeats it (one restart per round) and BROKER_RESTART_EVENTS sizes a
 * round: BROKER_RESTART_ROUNDS=20 npx jest --runInBand broker-restart
 */
const ROUNDS = Number(process.env.BROKER_RESTART_ROUNDS ?? 1);
const EVENTS = Number(process.env.BROKER_RESTART_EVENTS ?? 300);

const run = promisify(execFile);
const rabbitmqctl = (...args: string[]) => run('rabbitmqctl', args, { timeout: 60_000 });

describe('a broker restart', () => {
  let world: MessagingWorld;
  let broker: BrokerConnection;
  let consumer: Consumer<typeof testEvents>;
  let relay: Relay;
  let brokerStopped = false;

  beforeAll(async () => {
    world = await createWorld('restart');
    broker = await world.connect();
    consumer = inboxConsumer(world, broker, 'shop-test.restart', { retryDelaysMs: [100, 200] });
    consumer.start();
    await consumer.whenConsuming();
    relay = new Relay({
      service: TEST_SOURCE,
      exchange: TEST_EXCHANGE,
      eventStore: world.store,
      checkpoints: world.checkpoints,
      broker,
      databaseUrl: world.db.url,
      logger: world.logger,
      metrics: world.metrics,
      batchSize: 25,
    });
    relay.start();
  });

  afterAll(async () => {
    // Whatever happened, the broker must be running for whoever comes next.
    if (brokerStopped) await rabbitmqctl('start_app');
    await rabbitmqctl('await_startup');
    await relay?.stop();
    await consumer?.stop();
    await world?.close();
  });

  /**
   * Appends events one after another, as a busy service would, at least `count` of them and on
   * until the restart is over, so some are stored while the broker is away. Returns how many were
   * appended while the service had no broker.
   */
  async function stream(count: number, ids: string[], restarted: Promise<void>): Promise<number> {
    let over = false;
    const end = () => (over = true);
    restarted.then(end, end);
    let whileDown = 0;
    while (ids.length < count || !over) {
      ids.push(await appendOrder(world.store));
      if (broker.state !== 'connected') whileDown += 1;
      // Spread the stream over the restart rather than storing it all before the broker stops.
      await sleep(2);
    }
    return whileDown;
  }

  async function restartWhen(started: () => Promise<boolean>): Promise<void> {
    await eventually('the stream under way', started, 30_000);
    brokerStopped = true;
    await rabbitmqctl('stop_app');
    await eventually('the service to lose the broker', () => broker.state !== 'connected');
    await rabbitmqctl('start_app');
    brokerStopped = false;
    await rabbitmqctl('await_startup');
  }

  test(
    `when the broker stops and starts in the middle of a stream (${ROUNDS} round(s) of ${EVENTS} events), then every event is handled exactly once`,
    async () => {
      for (let round = 1; round <= ROUNDS; round++) {
        const ids: string[] = [];
        const reconnects = broker.reconnects;
        const before = (await effectCounts(world)).size;
        const restarted = restartWhen(
          async () => (await effectCounts(world)).size - before >= EVENTS / 4,
        );
        const [whileDown] = await Promise.all([stream(EVENTS, ids, restarted), restarted]);
        await eventually(
          `round ${round}: every event handled`,
          async () => (await effectCounts(world)).size - before >= ids.length,
          60_000,
        );
        const effects = await effectCounts(world);
        const lost = ids.filter((id) => !effects.has(id));
        const twice = ids.filter((id) => (effects.get(id) ?? 0) > 1);
        expect({ round, lost, twice }).toEqual({ round, lost: [], twice: [] });
        expect(broker.reconnects).toBeGreaterThan(reconnects);
        expect(whileDown).toBeGreaterThan(0);
        process.stdout.write(
          `broker restart round ${round}/${ROUNDS}: ${ids.length} events (${whileDown} stored while the broker was away), none lost, none twice\n`,
        );
      }
    },
    120_000 * ROUNDS,
  );
});
