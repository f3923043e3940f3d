import { randomUUID } from 'node:crypto';
import { paymentEvents } from '@meetmatt/contracts';
import {
  ProjectionRunner,
  type RecordedEvent,
  defineProjection,
  formatPosition,
  listProjections,
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

/** Counts how often each event was applied: a replay shows as a second application. */
const appliedCounts = defineProjection<unknown>({
  name: 'cli_applied_counts',
  version: 1,
  eventTypes: [paymentEvents.expired.type],
  tables: ['cli_applied_counts'],
  async createTables(db) {
    await sql`CREATE TABLE cli_applied_counts (event_id uuid PRIMARY KEY, applied int NOT NULL)`.execute(
      db,
    );
  },
  async apply(trx, events) {
    for (const event of events) {
      if ((event.data as { poison?: boolean }).poison) throw new Error('amount is not a number');
      await sql`INSERT INTO cli_applied_counts VALUES (${event.id}, 1)
        ON CONFLICT (event_id) DO UPDATE SET applied = cli_applied_counts.applied + 1`.execute(trx);
    }
  },
});

// Every command is a process of its own (node and the bundled services' code load each time): on a
// busy machine a handful of them outlast jest's default 30 s.
jest.setTimeout(120_000);

let fixture: CliFixture;
let runner: ProjectionRunner;
let events: RecordedEvent[];

async function applied(): Promise<Record<string, number>> {
  const { rows } = await sql<{ event_id: string; applied: number }>`
    SELECT event_id, applied FROM cli_applied_counts`.execute(fixture.services.payment.database.db);
  return Object.fromEntries(rows.map((r) => [r.event_id, r.applied]));
}

async function status() {
  const db = fixture.services.payment.database.db;
  return (await listProjections({ db })).find((s) => s.name === appliedCounts.name)!;
}

const expired = (poison = false) =>
  newEvent(paymentEvents.expired.type, {
    paymentId: randomUUID(),
    userId: randomUUID(),
    at: new Date().toISOString(),
    ...(poison ? { poison } : {}),
  });

beforeAll(async () => {
  fixture = await createCliFixture('cli_projections');
  const { database, store, url } = fixture.services.payment;
  runner = new ProjectionRunner({
    db: database.db,
    store,
    connectionString: url,
    projection: appliedCounts,
    leaderRetryMs: 100,
    controlPollMs: 100,
    checkpointIntervalMs: 100,
  });
  await runner.start();
  events = await appendAll(store, `payment-${randomUUID()}`, [expired(), expired()]);
  await eventually(
    'await applied() to equal { [events[0]!.id]: 1, [events[1]!.id]: 1 }',
    async () => expect(await applied()).toEqual({ [events[0]!.id]: 1, [events[1]!.id]: 1 }),
  );
});

afterAll(async () => {
  await runner?.stop();
  await fixture?.drop();
});

describe('meetmatt projections', () => {
  test('when listed, then each read model shows its state, version, checkpoint, lag and events processed', async () => {
    const [json, table] = await Promise.all([
      runCli(['projections', 'list', '--service', 'payment', '--json'], fixture.env),
      runCli(['projections', 'list'], fixture.env),
    ]);
    expect(jsonOf(json).projections).toEqual([
      expect.objectContaining({
        service: 'payment',
        name: 'cli_applied_counts',
        state: 'running',
        version: 1,
        checkpoint: expect.stringMatching(/^\d+:\d+$/),
        lag: expect.objectContaining({ events: 0 }),
        eventsProcessed: 2,
        leader: expect.any(String),
      }),
    ]);
    expect(table.stdout).toMatch(
      /^SERVICE\s+PROJECTION\s+STATE\s+VERSION\s+CHECKPOINT\s+LAG\s+PROCESSED\s+LEADER$/m,
    );
    expect(table.stdout).toMatch(
      /^payment\s+cli_applied_counts\s+running\s+1\s+\d+:\d+\s+0\s+2\s+\S+/m,
    );
  });

  test('when replayed from a position, then the events after it are applied again (and --dry-run only counts them)', async () => {
    const from = formatPosition(events[0]!.position);
    const dry = await runCli(
      ['projections', 'replay', 'cli_applied_counts', '--from', from, '--dry-run', '--json'],
      fixture.env,
    );
    expect(jsonOf(dry)).toMatchObject({ dryRun: true, service: 'payment', to: from, events: 1 });
    expect(await applied()).toEqual({ [events[0]!.id]: 1, [events[1]!.id]: 1 });
    const [missingFrom, unknown] = await Promise.all([
      runCli(['projections', 'replay', 'cli_applied_counts', '--yes'], fixture.env),
      runCli(['projections', 'replay', 'nope', '--from', '0:0', '--yes'], fixture.env),
    ]);
    expect([missingFrom.code, unknown.code]).toEqual([2, 1]);
    expect(failureLine(missingFrom)).toBe('error: projections replay needs --from <position|time>');
    expect(failureLine(unknown)).toBe(
      'error: no projection named "nope" in payment, user or brain',
    );

    const result = await runCli(
      ['projections', 'replay', 'cli_applied_counts', '--from', from, '--yes'],
      fixture.env,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^payment/cli_applied_counts replays from ${from} \\(1 event\\)`, 'm'),
    );
    await eventually(
      'await applied() to equal { [events[0]!.id]: 1, [events[1]!.id]: 2 }',
      async () => expect(await applied()).toEqual({ [events[0]!.id]: 1, [events[1]!.id]: 2 }),
    );
    // From a time: everything written in the last hour, both events once more.
    await runCli(
      ['projections', 'replay', 'cli_applied_counts', '--from', '1h', '--yes'],
      fixture.env,
    );
    await eventually(
      'await applied() to equal { [events[0]!.id]: 2, [events[1]!.id]: 3 }',
      async () => expect(await applied()).toEqual({ [events[0]!.id]: 2, [events[1]!.id]: 3 }),
    );
  });

  test('when a poison event stops a read model, then it shows failed, and skip moves it past that event only', async () => {
    const { store } = fixture.services.payment;
    const [poison] = await appendAll(store, `payment-${randomUUID()}`, [expired(true)]);
    await eventually(
      `await status() to match object { state: 'failed', failedEventId: poison!.id }`,
      async () =>
        expect(await status()).toMatchObject({ state: 'failed', failedEventId: poison!.id }),
    );
    const listed = await runCli(['projections', 'list', '--service', 'payment'], fixture.env);
    expect(listed.stdout).toMatch(/^payment\s+cli_applied_counts\s+failed\s/m);
    expect(listed.stdout).toContain(
      `payment/cli_applied_counts failed on event ${poison!.id}: amount is not a number`,
    );

    const wrong = await runCli(
      ['projections', 'skip', 'cli_applied_counts', events[0]!.id, '--yes'],
      fixture.env,
    );
    expect(wrong.code).toBe(1);
    expect(failureLine(wrong)).toBe(
      `error: projection cli_applied_counts failed on event ${poison!.id}, not ${events[0]!.id}`,
    );
    const dry = await runCli(
      ['projections', 'skip', 'cli_applied_counts', poison!.id, '--dry-run'],
      fixture.env,
    );
    expect(dry.stdout).toMatch(/^error\s+amount is not a number$/m);
    expect(dry.stdout).toMatch(/would skip it/);
    expect((await status()).state).toBe('failed');

    const skipped = await runCli(
      ['projections', 'skip', 'cli_applied_counts', poison!.id, '--yes', '--json'],
      fixture.env,
    );
    expect(skipped.code).toBe(0);
    expect(jsonOf(skipped)).toMatchObject({
      skipped: true,
      eventId: poison!.id,
      type: paymentEvents.expired.type,
    });
    const [after] = await appendAll(store, `payment-${randomUUID()}`, [expired()]);
    await eventually('(await applied())[after!.id] to be 1', async () =>
      expect((await applied())[after!.id]).toBe(1),
    );
    await eventually(
      `await status() to match object { state: 'running', failedEventId: undefined }`,
      async () =>
        expect(await status()).toMatchObject({ state: 'running', failedEventId: undefined }),
    );
    expect((await applied())[poison!.id]).toBeUndefined();
  });
});
