import { randomUUID } from 'node:crypto';
import { exchanges, paymentEvents, queues, services } from '@meetmatt/contracts';
import {
  BrokerConnection,
  Consumer,
  Inbox,
  type RecordedEvent,
  createLogger,
  formatPosition,
  republishEvents,
  sql,
} from '@meetmatt/infra';
import {
  type CliFixture,
  appendAll,
  createCliFixture,
  failureLine,
  jsonOf,
  newEvent,
  runCli,
} from '../support/cli';
import { eventually } from '@meetmatt/infra/testing';
import { sleep } from '@meetmatt/infra/runtime/backoff';

const logger = createLogger({ service: 'cli-test', level: 'silent' });
const queue = queues.userPaymentEvents;

// Every command is a process of its own (node and the bundled services' code load each time): on a
// busy machine a handful of them outlast jest's default 30 s.
jest.setTimeout(120_000);

let fixture: CliFixture;
let broker: BrokerConnection;
let consumer: { stop(): Promise<void> };
const outcomes: { id: string; outcome: 'processed' | 'duplicate' }[] = [];
let published: RecordedEvent[];
let internal: RecordedEvent;

const count = (outcome: 'processed' | 'duplicate') =>
  outcomes.filter((o) => o.outcome === outcome).length;

async function inboxRows(): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM inbox`.execute(
    fixture.services.user.database.db,
  );
  return rows[0]!.n;
}

beforeAll(async () => {
  fixture = await createCliFixture('cli_republish');
  broker = new BrokerConnection({ url: fixture.vhost.url, logger, name: 'cli-republish-test' });
  await broker.start();
  const inbox = new Inbox(fixture.services.user.database.db, queue);
  // As user-service consumes payment events: an inbox row per message, in the handler's transaction.
  const started = new Consumer({
    broker,
    logger,
    queue,
    exchange: exchanges.payment,
    events: [paymentEvents.expired, paymentEvents.failed] as const,
    handle: async (event) => {
      const outcome = await inbox.once(event.id, async () => undefined);
      outcomes.push({ id: event.id, outcome });
      return outcome;
    },
  });
  started.start();
  await started.whenConsuming();
  consumer = started;

  const store = fixture.services.payment.store;
  const userId = randomUUID();
  const at = new Date().toISOString();
  const [a, b] = [randomUUID(), randomUUID()];
  const first = await appendAll(store, `payment-${a}`, [
    newEvent(paymentEvents.ipnReceived.type, { paymentId: a, evidence: 'internal' }),
    newEvent(paymentEvents.expired.type, { paymentId: a, userId, at }),
  ]);
  const second = await appendAll(store, `payment-${b}`, [
    newEvent(paymentEvents.failed.type, { paymentId: b, userId, reason: 'declined', at }),
  ]);
  internal = first[0]!;
  published = [first[1]!, second[0]!];
  // What the relay did when they were written.
  await republishEvents({
    broker,
    exchange: exchanges.payment,
    source: services.payment.name,
    logger,
    events: published,
  });
  await eventually(`count('processed') to be 2`, () => expect(count('processed')).toBe(2));
});

afterAll(async () => {
  await consumer?.stop();
  await broker?.close();
  await fixture?.drop();
});

describe('meetmatt republish', () => {
  test('when run with --dry-run, then it counts and samples what it would send, and sends nothing', async () => {
    const [json, table] = await Promise.all([
      runCli(['republish', '--service', 'payment', '--dry-run', '--json'], fixture.env),
      runCli(['republish', '--service', 'payment', '--dry-run'], fixture.env),
    ]);
    expect(jsonOf(json)).toMatchObject({
      dryRun: true,
      service: 'payment',
      target: `exchange ${exchanges.payment}`,
      events: 2,
      byType: { [paymentEvents.expired.type]: 1, [paymentEvents.failed.type]: 1 },
      keptOffTheBus: 1,
      sample: published.map((e): unknown => expect.objectContaining({ id: e.id, type: e.type })),
    });
    expect(table.stdout).toMatch(/^would republish 2 payment events to exchange payment\.events$/m);
    expect(table.stdout).toMatch(/1 more are kept off the bus by payment-service and never sent/);
    expect(table.stdout).toMatch(/^payment\.expired\s+1$/m);
    expect(table.stdout).toContain(published[0]!.id);
    expect(table.stdout).not.toContain(internal.id);
    await sleep(300);
    expect(outcomes).toHaveLength(2);
  });

  test('when events the consumer already handled are republished, then they arrive with their ids and its inbox drops them', async () => {
    const refused = await runCli(['republish', '--service', 'payment'], fixture.env);
    expect(refused.code).toBe(1);
    expect(failureLine(refused)).toBe(
      'error: Republish 2 payment events to exchange payment.events? Refusing without --yes: stdin is not a terminal.',
    );
    const rowsBefore = await inboxRows();
    const result = await runCli(
      ['republish', '--service', 'payment', '--yes', '--json'],
      fixture.env,
    );
    expect(result.code).toBe(0);
    expect(jsonOf(result)).toMatchObject({ events: 2, confirmed: 2, unroutable: [] });
    await eventually(`count('duplicate') to be 2`, () => expect(count('duplicate')).toBe(2));
    expect(
      outcomes
        .filter((o) => o.outcome === 'duplicate')
        .map((o) => o.id)
        .sort(),
    ).toEqual(published.map((e) => e.id).sort());
    expect(count('processed')).toBe(2);
    expect(await inboxRows()).toBe(rowsBefore);
  });

  test('when narrowed by type, position and queue, then only those events go, to that queue alone', async () => {
    const after = formatPosition(published[0]!.position);
    const [byType, byPosition, toQueue, missingQueue] = await Promise.all([
      runCli(
        ['republish', '--service', 'payment', '--type', 'payment.exp*', '--dry-run', '--json'],
        fixture.env,
      ),
      runCli(
        ['republish', '--service', 'payment', '--from', after, '--dry-run', '--json'],
        fixture.env,
      ),
      runCli(
        [
          'republish',
          '--service',
          'payment',
          '--stream',
          published[1]!.streamId,
          '--queue',
          queue,
          '--yes',
        ],
        fixture.env,
      ),
      runCli(
        [
          'republish',
          '--service',
          'payment',
          '--type',
          'payment.failed',
          '--queue',
          'nobody',
          '--yes',
          '--json',
        ],
        fixture.env,
      ),
    ]);
    expect(jsonOf(byType)).toMatchObject({
      events: 1,
      byType: { [paymentEvents.expired.type]: 1 },
    });
    expect(jsonOf(byPosition)).toMatchObject({
      events: 1,
      byType: { [paymentEvents.failed.type]: 1 },
    });
    expect(toQueue.code).toBe(0);
    expect(toQueue.stdout).toMatch(
      new RegExp(
        `^republished 1 payment event of ${published[1]!.streamId} to queue ${queue.replace('.', '\\.')}, each confirmed by the broker$`,
        'm',
      ),
    );
    expect(jsonOf(missingQueue)).toMatchObject({ confirmed: 1, unroutable: [published[1]!.id] });
    await eventually(`count('duplicate') to be 3`, () => expect(count('duplicate')).toBe(3));
  });

  test('when the service or a stream is not given right, then it exits with one line and sends nothing', async () => {
    const [noService, unknownStream, both] = await Promise.all([
      runCli(['republish', '--yes'], fixture.env),
      runCli(
        ['republish', '--service', 'payment', '--stream', 'payment-nope', '--yes'],
        fixture.env,
      ),
      runCli(['republish', '--service', 'brain', '--stream', 'a', '--prefix', 'b'], fixture.env),
    ]);
    expect([noService.code, unknownStream.code, both.code]).toEqual([2, 1, 2]);
    expect(failureLine(noService)).toBe('error: republish needs --service <payment|user|brain>');
    expect(failureLine(unknownStream)).toBe('error: no stream "payment-nope" in payment');
    expect(failureLine(both)).toBe('error: --stream and --prefix do not go together');
  });
});
