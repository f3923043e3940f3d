import { randomUUID } from 'node:crypto';
import { exchanges, parkingQueueName, paymentEvents, queues, services } from '@meetmatt/contracts';
import {
  BrokerConnection,
  Consumer,
  Inbox,
  type RecordedEvent,
  createLogger,
  republishEvents,
} from '@meetmatt/infra';
import {
  type CliFixture,
  appendAll,
  createCliFixture,
  failureLine,
  jsonOf,
  newEvent,
  runCli,
  runOnTerminal,
} from '../support/cli';
import { eventually } from '@meetmatt/infra/testing';
import { sleep } from '@meetmatt/infra/runtime/backoff';

const logger = createLogger({ service: 'cli-test', level: 'silent' });
const queue = queues.userPaymentEvents;
const dlq = parkingQueueName(queue);

// Every command is a process of its own (node and the bundled services' code load each time): on a
// busy machine a handful of them outlast jest's default 30 s.
jest.setTimeout(120_000);

let fixture: CliFixture;
let broker: BrokerConnection;
let consumer: { stop(): Promise<void> };
let broken = true;
const handled: string[] = [];
let events: RecordedEvent[];

async function parked(): Promise<number> {
  const channel = await (await broker.whenConnected()).createChannel();
  try {
    return (await channel.checkQueue(dlq)).messageCount;
  } finally {
    await channel.close();
  }
}

beforeAll(async () => {
  fixture = await createCliFixture('cli_dlq');
  broker = new BrokerConnection({ url: fixture.vhost.url, logger, name: 'cli-dlq-test' });
  await broker.start();
  const inbox = new Inbox(fixture.services.user.database.db, queue);
  // The user service's queue, with no retries: a failure parks the message at once.
  const started = new Consumer({
    broker,
    logger,
    queue,
    exchange: exchanges.payment,
    events: [paymentEvents.expired] as const,
    retryDelaysMs: [],
    handle: async (event) => {
      if (broken) throw new Error('notifications table is locked');
      return inbox.once(event.id, async () => {
        handled.push(event.id);
      });
    },
  });
  started.start();
  await started.whenConsuming();
  consumer = started;
  const userId = randomUUID();
  const ids = [randomUUID(), randomUUID()];
  const store = fixture.services.payment.store;
  events = [];
  for (const paymentId of ids)
    events.push(
      ...(await appendAll(store, `payment-${paymentId}`, [
        newEvent(paymentEvents.expired.type, { paymentId, userId, at: new Date().toISOString() }),
      ])),
    );
  await republishEvents({
    broker,
    exchange: exchanges.payment,
    source: services.payment.name,
    logger,
    events,
  });
  // And one that is not even JSON, as a hand-made message might be.
  const channel = await (await broker.whenConnected()).createConfirmChannel();
  channel.publish(exchanges.payment, paymentEvents.expired.type, Buffer.from('not json'), {
    messageId: 'hand-made',
  });
  await channel.waitForConfirms();
  await channel.close();
  await eventually('await parked() to be 3', async () => expect(await parked()).toBe(3));
});

afterAll(async () => {
  await consumer?.stop();
  await broker?.close();
  await fixture?.drop();
});

describe('meetmatt dlq', () => {
  test('when queues are listed, then each consumer queue shows its parked messages', async () => {
    const [json, table] = await Promise.all([
      runCli(['dlq', 'list', '--json'], fixture.env),
      runCli(['dlq', 'list'], fixture.env),
    ]);
    expect(jsonOf(json).queues).toEqual(
      expect.arrayContaining([
        { queue, dlq, exists: true, parked: 3, ready: 0, consumers: 1 },
        expect.objectContaining({ queue: queues.brainPaymentEvents, exists: false }),
      ]),
    );
    expect(table.stdout).toMatch(/^QUEUE\s+PARKED\s+READY\s+CONSUMERS$/m);
    expect(table.stdout).toMatch(new RegExp(`^${queue.replace('.', '\\.')}\\s+3\\s+0\\s+1$`, 'm'));
  });

  test('when parked messages are shown, then reason, attempts, routing key and body print and nothing is removed', async () => {
    // One after the other: a show takes the messages it reads off the queue until it puts them
    // back, so a second show running beside it would count fewer.
    const json = await runCli(['dlq', 'show', queue, '--json'], fixture.env);
    const table = await runCli(['dlq', 'show', dlq, '--limit', '1'], fixture.env);
    const unknown = await runCli(['dlq', 'show', 'nobody.queue'], fixture.env);
    const shown = jsonOf<{ parked: number; messages: { messageId: string }[] }>(json);
    expect(shown.parked).toBe(3);
    const byId = new Map(shown.messages.map((m) => [m.messageId, m]));
    expect(byId.get(events[0]!.id)).toMatchObject({
      routingKey: paymentEvents.expired.type,
      exchange: exchanges.payment,
      reason: 'exhausted',
      attempts: 1,
      error: 'notifications table is locked',
      parkedFrom: queue,
      body: { id: events[0]!.id, type: paymentEvents.expired.type, data: events[0]!.data },
    });
    expect(byId.get('hand-made')).toMatchObject({ reason: 'malformed', body: 'not json' });
    expect(table.stdout).toMatch(/: 3 parked, showing 1/);
    expect(table.stdout).toMatch(/^reason\s+(exhausted|malformed) after 1 attempt$/m);
    expect(failureLine(unknown)).toMatch(/^error: no parking queue nobody\.queue\.dlq/);
    expect(await parked()).toBe(3);
  });

  test('when a parked message is redriven after the fault is fixed, then the consumer handles it and it leaves the parking queue', async () => {
    broken = false;
    const target = events[0]!.id;
    const dry = await runCli(['dlq', 'redrive', queue, '--ids', target, '--dry-run'], fixture.env);
    expect(dry.stdout).toMatch(
      new RegExp(`would send 1 of 3 parked messages from ${dlq} back to ${queue}`),
    );
    const refused = await runCli(['dlq', 'redrive', queue, '--ids', target], fixture.env);
    expect(refused.code).toBe(1);
    expect(failureLine(refused)).toMatch(/Refusing without --yes: stdin is not a terminal\.$/);
    expect(await parked()).toBe(3);

    const redriven = await runCli(
      ['dlq', 'redrive', queue, '--ids', target, '--yes', '--json'],
      fixture.env,
    );
    expect(redriven.code).toBe(0);
    expect(jsonOf(redriven)).toMatchObject({ redriven: [target], failed: [], notFound: [] });
    await eventually('handled to equal [target]', () => expect(handled).toEqual([target]));
    expect(await parked()).toBe(2);
    // Redriven again (a second copy of the same event), the inbox drops it.
    await republishEvents({
      broker,
      exchange: exchanges.payment,
      source: services.payment.name,
      logger,
      events: [events[0]!],
    });
    await sleep(300);
    expect(handled).toEqual([target]);
  });

  test('when a redrive names a message that is not parked, then it says which and exits 1', async () => {
    const result = await runCli(
      ['dlq', 'redrive', queue, '--ids', 'no-such-message', '--yes'],
      fixture.env,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^not parked in .*: no-such-message$/m);
    expect(result.stderr.trim()).toBe('error: 1 message(s) not redriven');
    expect(await parked()).toBe(2);
  });

  test('when a purge is answered no on a terminal, then nothing is deleted; answered yes, the parking queue is emptied', async () => {
    const no = await runOnTerminal(['dlq', 'purge', queue], fixture.env, 'n\n');
    expect(no.code).toBe(1);
    expect(no.stdout).toMatch(
      /Delete 2 parked messages from user-service\.payment-events\.dlq for good\? \[y\/N\]/,
    );
    expect(no.stdout).toMatch(/error: cancelled; nothing was changed/);
    expect(await parked()).toBe(2);
    const dry = await runCli(['dlq', 'purge', queue, '--dry-run', '--json'], fixture.env);
    expect(jsonOf(dry)).toEqual({ dryRun: true, queue: dlq, parked: 2 });
    const yes = await runOnTerminal(['dlq', 'purge', queue], fixture.env, 'y\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/deleted 2 parked messages from user-service\.payment-events\.dlq/);
    expect(await parked()).toBe(0);
  });
});
