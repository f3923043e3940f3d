import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  EventCatalog,
  ProjectionStateError,
  formatPosition,
  listProjections,
} from '@meetmatt/infra';
import {
  accountEvent,
  accountHistory,
  accountsProjection,
  foldAccounts,
  readAccounts,
} from '../support/projections/accounts';
import { type Harness, createHarness } from '../support/projections/harness';
import { countEvents, eventCountsProjection, readEventCounts } from '../support/projections/others';
import { eventually } from '@meetmatt/infra/testing';

describe('poison events', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness('proj_poison');
  });
  afterEach(async () => {
    await h.close();
  });

  test('when an event cannot be applied, then only its projection stops, with the event id and error in its status and /readyz, and the operator can skip it once they name it', async () => {
    const accountId = randomUUID();
    await h.appendMany(Array.from({ length: 3 }, () => accountHistory()));
    await h.append(`account-${accountId}`, accountHistory(accountId, 1));
    const poisonId = randomUUID();
    await h.append(`account-${accountId}`, [
      { ...accountEvent('account.deposited', { accountId, amount: -5 }), id: poisonId },
    ]);
    // Events after the poison, in the same batch: they wait for the operator.
    const head = await h.appendMany(Array.from({ length: 2 }, () => accountHistory()));
    const events = await h.allEvents();
    const poisonAt = events.findIndex((e) => e.id === poisonId);

    const set = h.projections([accountsProjection(), eventCountsProjection()]);
    await set.start();
    const readiness = set.readiness();

    // The other projection passes the poison; accounts stops just before it.
    const waited = await set.waitFor(head, 5_000);
    expect(waited).toEqual({ ok: false, pending: [{ projection: 'accounts', outcome: 'failed' }] });
    expect(await readEventCounts(h.db)).toEqual(countEvents(events));
    expect(await readAccounts(h.db)).toEqual(foldAccounts(events.slice(0, poisonAt)));

    const [accounts] = await listProjections({ db: h.db, store: h.store });
    expect(accounts).toMatchObject({
      name: 'accounts',
      state: 'failed',
      failedEventId: poisonId,
      failedPosition: events[poisonAt]!.position,
      position: events[poisonAt - 1]!.position,
      error: 'amount -5 is not a positive integer',
      eventsProcessed: poisonAt,
      lag: { events: events.length - poisonAt },
    });
    const ready = await readiness.check();
    expect(ready).toMatchObject({
      ok: false,
      details: {
        accounts: { state: 'failed', failedEventId: poisonId },
        event_counts: { state: 'running' },
      },
    });
    expect(ready && ready.error).toContain(poisonId);

    const wrongId = events[poisonAt - 1]!.id;
    await expect(set.skip('accounts', wrongId)).rejects.toThrow(ProjectionStateError);
    await expect(set.skip('event_counts', poisonId)).rejects.toThrow(ProjectionStateError);
    expect(await h.checkpoint('accounts')).toBe(formatPosition(events[poisonAt - 1]!.position));

    await set.skip('accounts', poisonId);
    expect(await set.waitFor(head, 5_000)).toEqual({ ok: true, pending: [] });
    expect(await readAccounts(h.db)).toEqual(foldAccounts(events.filter((e) => e.id !== poisonId)));
    await eventually('ready again', async () => (await readiness.check())?.ok === true);
  });

  test('when an event fails its schema in the catalog, then it is the poison, not its batch', async () => {
    const definition = (type: string, schema: z.ZodType) => ({
      type,
      schema,
      version: 1,
      upcasters: {},
      description: type,
    });
    const catalog = new EventCatalog([
      definition('account.opened', z.object({ accountId: z.string(), owner: z.string() })),
      definition(
        'account.deposited',
        z.object({ accountId: z.string(), amount: z.number().int().positive() }),
      ),
      definition(
        'account.withdrawn',
        z.object({ accountId: z.string(), amount: z.number().int().positive() }),
      ),
    ]);
    const accountId = randomUUID();
    await h.append(`account-${accountId}`, accountHistory(accountId, 2));
    const badId = randomUUID();
    await h.append(`account-${accountId}`, [
      { ...accountEvent('account.deposited', { accountId, amount: 3 }), id: randomUUID() },
      {
        ...accountEvent('account.deposited', { accountId, amount: 'many' as unknown as number }),
        id: badId,
      },
    ]);
    const runner = h.runner(accountsProjection(), { catalog });
    await runner.start();
    await eventually(
      'the projection stopped',
      async () => (await listProjections({ db: h.db }))[0]?.state === 'failed',
    );
    const [status] = await listProjections({ db: h.db });
    expect(status?.failedEventId).toBe(badId);
    expect(status?.error).toContain('does not match its schema');
    const events = await h.allEvents();
    expect(await readAccounts(h.db)).toEqual(foldAccounts(events.filter((e) => e.id !== badId)));
  });
});
