import {
  type Database,
  ProjectionStateError,
  type RebuildProgress,
  cancelRebuild,
  createDatabase,
  listProjections,
  rebuildProjection,
  waitForProjections,
} from '@meetmatt/infra';
import {
  accountHistory,
  accountsProjection,
  foldAccounts,
  readAccounts,
} from '../support/projections/accounts';
import { type Harness, createHarness, gate } from '../support/projections/harness';
import { eventually } from '@meetmatt/infra/testing';

interface Observed {
  reads: number;
  errors: string[];
  violations: string[];
  /** The accounts table's OID per read: a change means the reader met the swapped-in table. */
  tables: Set<number>;
}

/**
 * A reader of the live tables as the API would read them. Each read is one statement over both
 * tables, so it sees one snapshot: the totals row must agree with the accounts table, and the
 * number of accounts never goes down (a half-built table would have fewer).
 */
async function readLoop(database: Database, stop: () => boolean, seen: Observed): Promise<void> {
  let highest = 0;
  while (!stop()) {
    try {
      const { rows } = await database.pool.query<Record<string, number>>(
        `SELECT 'accounts'::regclass::oid::int AS oid,
                (SELECT count(*) FROM accounts)::int AS n,
                (SELECT coalesce(sum(balance), 0) FROM accounts)::float8 AS balance,
                (SELECT coalesce(sum(events), 0) FROM accounts)::float8 AS events,
                t.accounts, t.balance::float8 AS t_balance, t.events AS t_events
         FROM account_totals t`,
      );
      const r = rows[0]!;
      seen.reads += 1;
      seen.tables.add(r.oid!);
      if (r.n !== r.accounts || r.balance !== r.t_balance || r.events !== r.t_events)
        seen.violations.push(JSON.stringify(r));
      if (r.n! < highest) seen.violations.push(`accounts went from ${highest} to ${r.n}`);
      highest = Math.max(highest, r.n!);
    } catch (error) {
      seen.errors.push((error as Error).message);
      if (database.pool.ended) return;
    }
  }
}

describe('projection rebuild', () => {
  let h: Harness;
  /** Stops whatever load a test started, even when it failed half-way. */
  let stopLoad: () => Promise<void>;
  beforeEach(async () => {
    h = await createHarness('proj_rebuild');
    stopLoad = async () => undefined;
  });
  afterEach(async () => {
    await stopLoad();
    await h.close();
  });

  test('when a projection is rebuilt to a new version while reads and writes hit it, then no read fails or sees a half-built table, and the new tables take over with nothing lost', async () => {
    await h.appendMany(Array.from({ length: 120 }, () => accountHistory()));
    const live = h.runner(accountsProjection({ version: 1 }));
    await live.start();
    const head = await h.store.headPosition();
    await eventually(
      'v1 caught up',
      async () => (await live.passed(head!, Date.now())) === 'passed',
    );

    const readers = createDatabase({ url: h.testDb.url, max: 4 });
    let stopReading = false;
    let stopWriting = false;
    const observed: Observed[] = Array.from({ length: 4 }, () => ({
      reads: 0,
      errors: [],
      violations: [],
      tables: new Set<number>(),
    }));
    const reading = observed.map((seen) => readLoop(readers, () => stopReading, seen));
    // Writes keep coming while the rebuild runs, each waiting until the live runner applied it
    // (read-your-writes), which paces them the way clients of the API would be paced.
    const writing = (async () => {
      while (!stopWriting) {
        const position = await h.appendMany([accountHistory()], 1);
        await waitForProjections([live], position, 5_000);
      }
    })();

    stopLoad = async () => {
      stopWriting = true;
      stopReading = true;
      await Promise.all([writing, ...reading]);
      await readers.close();
    };

    const progress: RebuildProgress[] = [];
    const result = await rebuildProjection(h.context, accountsProjection({ version: 2 }), {
      batchSize: 100,
      onProgress: (p) => progress.push(p),
    });
    expect(result).toMatchObject({ projection: 'accounts', version: 2, resumed: false });
    // Keep reading until every reader has met the new tables.
    await eventually('every reader read the new tables', () =>
      observed.every((o) => o.tables.size === 2),
    );
    await stopLoad();
    stopLoad = async () => undefined;

    for (const seen of observed) {
      expect(seen.errors).toEqual([]);
      expect(seen.violations).toEqual([]);
      expect(seen.reads).toBeGreaterThan(5);
    }
    const building = progress.filter((p) => p.phase === 'building');
    expect(building.length).toBeGreaterThan(5);
    expect(building.map((p) => p.eventsDone)).toEqual(
      [...building.map((p) => p.eventsDone)].sort((a, b) => a - b),
    );
    expect(
      building.some((p) => p.fraction! > 0 && p.fraction! < 1 && p.estimatedSecondsLeft! > 0),
    ).toBe(true);
    expect(progress.at(-1)).toMatchObject({ phase: 'done', fraction: 1 });
    expect(progress.at(-1)!.eventsPerSecond).toBeGreaterThan(0);

    // The old code stands aside once the tables are newer than it; the new code carries on.
    await eventually(
      'v1 stood aside',
      async () => (await live.passed(head!, Date.now())) === 'newer-version',
    );
    await live.stop();
    const next = h.runner(accountsProjection({ version: 2 }));
    await next.start();
    const events = await h.allEvents();
    await eventually(
      'v2 caught up',
      async () => (await next.passed(events.at(-1)!.position, Date.now())) === 'passed',
    );
    expect(await readAccounts(h.db, 2)).toEqual(foldAccounts(events, 2));
    const [status] = await listProjections({ db: h.db, store: h.store });
    expect(status).toMatchObject({
      name: 'accounts',
      version: 2,
      rebuild: undefined,
      eventsProcessed: events.length,
    });
    const { rows } = await h.database.pool.query(
      `SELECT 1 FROM pg_namespace WHERE nspname = 'rebuild_accounts'`,
    );
    expect(rows).toEqual([]);
  }, 60_000);

  test('when a runner starts with a newer version than the live tables, then it rebuilds them and carries on from the swap', async () => {
    await h.appendMany(Array.from({ length: 50 }, () => accountHistory()));
    const v1 = h.runner(accountsProjection({ version: 1 }));
    await v1.start();
    const head = await h.store.headPosition();
    await eventually('v1 caught up', async () => (await v1.passed(head!, Date.now())) === 'passed');
    await v1.stop();

    const progress: RebuildProgress[] = [];
    const v2 = h.runner(accountsProjection({ version: 2 }), {
      onRebuildProgress: (p) => progress.push(p),
    });
    await v2.start();
    const last = await h.appendMany(Array.from({ length: 5 }, () => accountHistory()));
    await eventually(
      'v2 rebuilt and caught up',
      async () => (await v2.passed(last, Date.now())) === 'passed',
    );

    expect(progress.at(-1)).toMatchObject({ phase: 'done', version: 2 });
    expect(await readAccounts(h.db, 2)).toEqual(foldAccounts(await h.allEvents(), 2));
  });

  test('when a rebuild is interrupted, then another is refused meanwhile, and the next one resumes where it stopped', async () => {
    await h.appendMany(Array.from({ length: 200 }, () => accountHistory()));
    const held = gate();
    const reached = gate();
    const controller = new AbortController();
    let applied = 0;
    const slow = accountsProjection({
      version: 2,
      async beforeEvent() {
        applied += 1;
        if (applied === 450) {
          reached.open();
          await held.wait;
        }
      },
    });
    const first = rebuildProjection(h.context, slow, { batchSize: 100, signal: controller.signal });
    first.catch(() => undefined);
    await Promise.race([reached.wait, first]);

    await expect(rebuildProjection(h.context, accountsProjection({ version: 2 }))).rejects.toThrow(
      ProjectionStateError,
    );
    controller.abort();
    held.open();
    await expect(first).rejects.toThrow();

    const [interrupted] = await listProjections({ db: h.db });
    expect(interrupted).toMatchObject({
      state: 'rebuilding',
      rebuild: { version: 2, eventsDone: 500, state: 'building' },
    });

    const result = await rebuildProjection(h.context, accountsProjection({ version: 2 }), {
      batchSize: 100,
    });
    const events = await h.allEvents();
    expect(result).toMatchObject({ resumed: true, eventsDone: events.length });
    expect(await readAccounts(h.db, 2)).toEqual(foldAccounts(events, 2));
  });

  test('when an interrupted rebuild is cancelled, then what it built is dropped and the live tables are untouched', async () => {
    await h.appendMany(Array.from({ length: 20 }, () => accountHistory()));
    const live = h.runner(accountsProjection());
    await live.start();
    const events = await h.allEvents();
    await eventually(
      'live caught up',
      async () => (await live.passed(events.at(-1)!.position, Date.now())) === 'passed',
    );
    const controller = new AbortController();
    await expect(
      rebuildProjection(h.context, accountsProjection({ version: 2 }), {
        batchSize: 20,
        signal: controller.signal,
        onProgress: (p) => p.eventsDone >= 40 && controller.abort(),
      }),
    ).rejects.toThrow();
    expect((await listProjections({ db: h.db }))[0]).toMatchObject({ state: 'rebuilding' });

    await cancelRebuild(h.db, accountsProjection());
    const [status] = await listProjections({ db: h.db });
    expect(status).toMatchObject({ state: 'running', version: 1, rebuild: undefined });
    const { rows } = await h.database.pool.query(
      `SELECT 1 FROM pg_namespace WHERE nspname = 'rebuild_accounts'`,
    );
    expect(rows).toEqual([]);
    expect(await readAccounts(h.db)).toEqual(foldAccounts(events));
  });
});
