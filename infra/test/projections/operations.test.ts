import { randomUUID } from 'node:crypto';
import {
  Metrics,
  ProjectionStateError,
  formatPosition,
  listProjections,
  positionBefore,
} from '@meetmatt/infra';
import {
  accountHistory,
  accountsProjection,
  foldAccounts,
  readAccounts,
} from '../support/projections/accounts';
import { type Harness, createHarness } from '../support/projections/harness';
import { foldOwners, ownersProjection, readOwners, renamed } from '../support/projections/others';
import { eventually } from '@meetmatt/infra/testing';

describe('projection operations', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness('proj_ops');
  });
  afterEach(async () => {
    await h.close();
  });

  test('when a projection is reset, then its tables are recreated and refilled from position 0', async () => {
    const set = h.projections([accountsProjection()]);
    await set.start();
    const first = await h.appendMany(Array.from({ length: 10 }, () => accountHistory()));
    expect((await set.waitFor(first, 5_000)).ok).toBe(true);
    await h.database.pool.query('UPDATE accounts SET balance = balance + 1000');

    await set.reset('accounts');
    const last = await h.appendMany(Array.from({ length: 2 }, () => accountHistory()));
    expect((await set.waitFor(last, 5_000)).ok).toBe(true);
    const events = await h.allEvents();
    expect(await readAccounts(h.db)).toEqual(foldAccounts(events));
    // The checkpoint passes the last event a moment before the runner reports itself live.
    await eventually(
      'accounts runs again',
      async () => (await set.status())[0]?.state === 'running',
      5_000,
    );
    const [status] = await set.status();
    expect(status).toMatchObject({ state: 'running', eventsProcessed: events.length });
  });

  test('when a projection is replayed from a position, then the events after it are applied again and repair what they wrote', async () => {
    const set = h.projections([ownersProjection()]);
    await set.start();
    await h.appendMany(Array.from({ length: 5 }, () => accountHistory()));
    const accountId = randomUUID();
    await h.append(`account-${accountId}`, accountHistory(accountId, 1));
    const last = await h.append(`account-${accountId}`, [renamed(accountId, 'new owner')]);
    expect((await set.waitFor(last, 5_000)).ok).toBe(true);
    const events = await h.allEvents();
    const openedAt = events.findIndex(
      (e) =>
        e.type === 'account.opened' && (e.data as { accountId: string }).accountId === accountId,
    );
    // A bug wrote the wrong owner into this row and the one before it.
    await h.database.pool.query(`UPDATE account_owners SET owner = 'corrupted'`);

    const from = events[openedAt - 1]!.position;
    expect(await set.replay('owners', from)).toEqual(from);
    expect((await set.waitFor(last, 5_000)).ok).toBe(true);
    const owners = await readOwners(h.db);
    expect(owners[accountId]).toBe('new owner');
    // Events up to `from` were not replayed: their rows keep what the bug wrote.
    expect(Object.values(owners).filter((o) => o === 'corrupted')).toHaveLength(5);
    const expected = foldOwners(events.slice(openedAt));
    for (const [id, owner] of Object.entries(expected)) expect(owners[id]).toBe(owner);
  });

  test('when a projection is replayed from a time, then it starts again at the first event recorded at or after it', async () => {
    await h.appendMany(Array.from({ length: 3 }, () => accountHistory()));
    // The database's clock, rounded up to the millisecond a Date can hold.
    const { rows } = await h.database.pool.query<{ ms: string }>(
      `SELECT ceil(extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS ms`,
    );
    const time = new Date(Number(rows[0]!.ms));
    await eventually('the clock passed the replay time', async () => {
      const now = await h.database.pool.query<{ passed: boolean }>(
        'SELECT clock_timestamp() > $1 AS passed',
        [time],
      );
      return now.rows[0]!.passed;
    });
    await h.appendMany(Array.from({ length: 2 }, () => accountHistory()));
    const events = await h.allEvents();

    const before = await positionBefore(h.store, time);
    expect(before).toEqual(events[14]!.position);

    const set = h.projections([ownersProjection()]);
    await set.start();
    expect(await set.replay('owners', time)).toEqual(events[14]!.position);
    expect(await h.checkpoint('owners')).toBe(formatPosition(events[14]!.position));
    await expect(set.replay('owners', new Date(Date.now() + 3_600_000))).rejects.toThrow(
      ProjectionStateError,
    );
  });

  test('when a projection is stopped and events keep coming, then status, readiness and metrics show it behind, and it catches up once resumed', async () => {
    const metrics = new Metrics('test', { defaultMetrics: false });
    const set = h.projections([accountsProjection(), ownersProjection()], { metrics });
    await set.start();
    const first = await h.appendMany(Array.from({ length: 4 }, () => accountHistory()));
    expect((await set.waitFor(first, 5_000)).ok).toBe(true);

    await set.pause('accounts');
    await eventually(
      'accounts paused',
      async () => (await set.waitFor(first, 0)).pending.length === 1,
    );
    const behind = await h.appendMany(Array.from({ length: 3 }, () => accountHistory()));
    expect(await set.waitFor(behind, 5_000)).toEqual({
      ok: false,
      pending: [{ projection: 'accounts', outcome: 'stopped' }],
    });

    const statuses = await set.status();
    expect(statuses.map((s) => [s.name, s.state, s.lag?.events])).toEqual([
      ['accounts', 'stopped', 15],
      ['owners', 'running', 0],
    ]);
    expect(statuses[0]!.lag!.seconds).toBeGreaterThan(0);
    // Stopped on purpose: not a reason to take the instance out of service.
    expect(await set.readiness({ maxLagEvents: 5 }).check()).toMatchObject({ ok: true });
    const text = await metrics.text();
    expect(text).toContain('projection_lag_events{projection="accounts",service="test"} 15');
    expect(text).toContain(
      'projection_state{projection="accounts",state="stopped",service="test"} 1',
    );
    expect(text).toContain(
      'projection_events_applied_total{projection="accounts",service="test"} 20',
    );

    await set.resume('accounts');
    expect((await set.waitFor(behind, 5_000)).ok).toBe(true);
    expect(await readAccounts(h.db)).toEqual(foldAccounts(await h.allEvents()));
    await eventually('running again', async () => (await set.status())[0]!.state === 'running');
    await expect(set.skip('accounts', randomUUID())).rejects.toThrow(ProjectionStateError);
    const lagging = await listProjections({ db: h.db, store: h.store });
    expect(lagging.map((s) => s.lag?.events)).toEqual([0, 0]);
  });
});
