import { randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  PostgresEventStore,
  ProjectionRunner,
  type RecordedEvent,
  createDatabase,
  formatPosition,
} from '@meetmatt/infra';
import { TcpProxy, captureLogger, eventually } from '@meetmatt/infra/testing';
import {
  accountHistory,
  accountsProjection,
  foldAccounts,
  readAccounts,
} from '../support/projections/accounts';
import { type Harness, createHarness, gate } from '../support/projections/harness';

describe('projection runner', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness('proj_run');
  });
  afterEach(async () => {
    await h.close();
  });

  test('when events are appended, then the runner applies them in batches and the read model equals a fold of the store', async () => {
    await h.appendMany(Array.from({ length: 30 }, () => accountHistory()));
    const runner = h.runner(accountsProjection({ batchSize: 7 }));
    await runner.start();
    const last = await h.appendMany(Array.from({ length: 10 }, () => accountHistory()));

    await eventually(
      'the runner passed the head',
      async () => (await runner.passed(last, Date.now())) === 'passed',
    );

    const events = await h.allEvents();
    expect(await readAccounts(h.db)).toEqual(foldAccounts(events));
    expect(await h.checkpoint('accounts')).toBe(formatPosition(events.at(-1)!.position));
    const { rows } = await h.database.pool.query(
      'SELECT state, events_processed, version FROM projection_status',
    );
    expect(rows).toEqual([{ state: 'running', events_processed: events.length, version: 1 }]);
  });

  test('when the database connection drops while a batch is open, then nothing of that batch is kept and the runner resumes without a gap', async () => {
    const proxy = await TcpProxy.forUrl(h.testDb.url, 5432).start();
    const cutPool = createDatabase({ url: proxy.url(h.testDb.url), max: 4 });
    // pg emits 'error' on a checked-out client whose connection dies; without a listener that
    // crashes the process (see the report: createPool could add this for every service).
    cutPool.pool.on('connect', (client) => client.on('error', () => undefined));
    const held = gate();
    const batchOpen = gate();
    let holding = true;
    const projection = accountsProjection({
      batchSize: 10,
      async beforeEvent(_event, index) {
        if (holding && index === 5) {
          holding = false;
          batchOpen.open();
          await held.wait;
        }
      },
    });
    await h.appendMany(Array.from({ length: 10 }, () => accountHistory()));
    // Its data goes through the proxy; its leader lock does not, so it keeps leading.
    const store = new PostgresEventStore({ pool: cutPool.pool, connectionString: h.testDb.url });
    const runner = new ProjectionRunner({
      db: cutPool.db,
      store,
      connectionString: h.testDb.url,
      projection,
      leaderRetryMs: 50,
      controlPollMs: 50,
    });
    try {
      await runner.start();
      await batchOpen.wait;
      const before = await readAccounts(h.db);
      proxy.cut();
      held.open();
      // The half-applied batch is gone with its connection: the live tables are as they were.
      expect(await readAccounts(h.db)).toEqual(before);
      proxy.restore();
      const events = await h.allEvents();
      await eventually(
        'the runner caught up after the cut',
        async () => (await h.checkpoint('accounts')) === formatPosition(events.at(-1)!.position),
      );
      expect(await readAccounts(h.db)).toEqual(foldAccounts(events));
    } finally {
      await runner.stop();
      await store.close();
      await cutPool.close();
      await proxy.stop();
    }
  });

  test('when two runners run side by side, then only one applies, and the other takes over when the first stops', async () => {
    const appliedBy = { a: 0, b: 0 };
    const a = h.runner(accountsProjection({ onApply: (e) => (appliedBy.a += e.length) }));
    const b = h.runner(accountsProjection({ onApply: (e) => (appliedBy.b += e.length) }));
    await a.start();
    await eventually('a leads', () => a.isActive);
    await b.start();
    let last = await h.appendMany(Array.from({ length: 20 }, () => accountHistory()));
    await eventually(
      'a applied everything',
      async () => (await a.passed(last, Date.now())) === 'passed',
    );
    expect(b.isLeader).toBe(false);
    expect(appliedBy).toEqual({ a: 100, b: 0 });

    await a.stop();
    await eventually('b took over', () => b.isActive);
    last = await h.appendMany(Array.from({ length: 4 }, () => accountHistory()));
    await eventually(
      'b applied the new events',
      async () => (await b.passed(last, Date.now())) === 'passed',
    );

    expect(appliedBy).toEqual({ a: 100, b: 20 });
    expect(await readAccounts(h.db)).toEqual(foldAccounts(await h.allEvents()));
  });

  test('when a leader loses its lock in the middle of a batch and another instance takes over, then no event is applied twice', async () => {
    const held = gate();
    const batchOpen = gate();
    let holding = true;
    const applied: RecordedEvent[] = [];
    const a = h.runner(
      accountsProjection({
        batchSize: 50,
        onApply: (e) => applied.push(...e),
        async beforeEvent(_event, index) {
          if (holding && index === 3) {
            holding = false;
            batchOpen.open();
            await held.wait;
          }
        },
      }),
    );
    const bLog = captureLogger();
    const b = h.runner(accountsProjection({ batchSize: 50, onApply: (e) => applied.push(...e) }), {
      logger: bLog.logger,
    });
    const last = await h.appendMany(Array.from({ length: 8 }, () => accountHistory()));
    await a.start();
    await batchOpen.wait;
    await b.start();

    // a's lock connection dies while a still holds its batch transaction open.
    const admin = new pg.Client({ connectionString: h.testDb.url });
    await admin.connect();
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'leader:projection:accounts' AND datname = current_database()`,
    );
    await admin.end();
    await eventually('b leads', () => b.isActive);
    // b reads the same events from the same checkpoint and queues on the status row a locked.
    await eventually('b queued behind the batch a holds open', async () => {
      const { rows } = await h.database.pool.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return rows.length > 0;
    });
    held.open();

    await eventually(
      'b passed the head',
      async () => (await b.passed(last, Date.now())) === 'passed',
    );
    const events = await h.allEvents();
    expect(await readAccounts(h.db)).toEqual(foldAccounts(events));
    const { rows } = await h.database.pool.query('SELECT events_processed FROM projection_status');
    expect(rows[0].events_processed).toBe(events.length);
    // Only a's batch ever reached apply: b's batch found the checkpoint moved and rolled back.
    expect(applied).toHaveLength(events.length);
    expect(bLog.entries).toContainEqual(
      expect.objectContaining({
        message: 'projection restarts from its stored checkpoint',
        reason: expect.stringContaining('checkpoint moved'),
      }),
    );
  });

  test('when events of other types are appended, then the checkpoint moves past them without applying anything', async () => {
    const runner = h.runner(accountsProjection());
    await runner.start();
    await h.append(`account-${randomUUID()}`, [accountHistory()[0]!]);
    const other = await h.append(`other-${randomUUID()}`, [
      {
        type: 'other.happened',
        data: {},
        metadata: { correlationId: 'c', causationId: 'c', schemaVersion: 1 },
      },
    ]);
    await eventually(
      'the checkpoint passed the other event',
      async () => (await h.checkpoint('accounts')) === formatPosition(other),
    );
    const { rows } = await h.database.pool.query('SELECT events_processed FROM projection_status');
    expect(rows[0].events_processed).toBe(1);
  });
});
