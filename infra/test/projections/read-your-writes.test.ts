import { randomUUID } from 'node:crypto';
import {
  accountEvent,
  accountHistory,
  accountsProjection,
  readAccounts,
} from '../support/projections/accounts';
import { type Harness, createHarness, gate } from '../support/projections/harness';
import {
  ownersProjection,
  readOwners,
  renamed,
  unrelatedEvent,
} from '../support/projections/others';
import { eventually } from '@meetmatt/infra/testing';

describe('read-your-writes', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness('proj_ryw');
  });
  afterEach(async () => {
    await h.close();
  });

  test('when a command waits for the projections after its append, then the next read sees its write, every time', async () => {
    const set = h.projections([accountsProjection(), ownersProjection()]);
    await set.start();
    for (let i = 0; i < 15; i++) {
      const accountId = randomUUID();
      const position = await h.append(`account-${accountId}`, accountHistory(accountId, 1));
      expect(await set.waitFor(position)).toEqual({ ok: true, pending: [] });
      const { accounts } = await readAccounts(h.db);
      expect(accounts.find((a) => a.id === accountId)).toMatchObject({ balance: 0, events: 3 });
      expect((await readOwners(h.db))[accountId]).toBe(`owner-${accountId.slice(0, 8)}`);
    }
  });

  test('when the appended event concerns none of the projections, then the wait ends as soon as they have looked past it', async () => {
    const set = h.projections([accountsProjection(), ownersProjection()], {
      // Checkpoints that only skipped events are hardly ever stored: the wait must not need them.
      checkpointIntervalMs: 60_000,
    });
    await set.start();
    const position = await h.append(`other-${randomUUID()}`, [unrelatedEvent()]);
    expect(await set.waitFor(position)).toEqual({ ok: true, pending: [] });
  });

  test('when another instance leads the projections, then the wait follows the status table it writes', async () => {
    const leader = h.projections([accountsProjection(), ownersProjection()], {
      checkpointIntervalMs: 60_000,
    });
    await leader.start();
    await eventually('the first instance leads', () => leader.runners.every((r) => r.isActive));
    const follower = h.projections([accountsProjection(), ownersProjection()]);
    await follower.start();
    expect(follower.runners.some((r) => r.isLeader)).toBe(false);

    const accountId = randomUUID();
    const position = await h.append(`account-${accountId}`, accountHistory(accountId, 1));
    expect(await follower.waitFor(position)).toEqual({ ok: true, pending: [] });
    expect((await readAccounts(h.db)).accounts.find((a) => a.id === accountId)).toBeDefined();

    // Only `owners` cares about a rename; `accounts` has no event up to it left to apply.
    const renamedAt = await h.append(`account-${accountId}`, [renamed(accountId, 'someone else')]);
    expect(await follower.waitFor(renamedAt)).toEqual({ ok: true, pending: [] });
    expect((await readOwners(h.db))[accountId]).toBe('someone else');
    const unrelatedAt = await h.append(`other-${randomUUID()}`, [unrelatedEvent()]);
    expect(await follower.waitFor(unrelatedAt)).toEqual({ ok: true, pending: [] });
  });

  test('when a projection is stopped, or slower than the bound, then the wait says which and does not hang', async () => {
    const held = gate();
    let holding = false;
    const set = h.projections([
      accountsProjection({
        async beforeEvent() {
          if (holding) await held.wait;
        },
      }),
      ownersProjection(),
    ]);
    await set.start();
    try {
      holding = true;
      const accountId = randomUUID();
      const slowAt = await h.append(`account-${accountId}`, accountHistory(accountId, 1));
      const started = Date.now();
      const slow = await set.waitFor(slowAt, 300);
      expect(slow).toEqual({
        ok: false,
        pending: [{ projection: 'accounts', outcome: 'timeout' }],
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      holding = false;
      held.open();
    }

    await set.pause('accounts');
    const pausedAt = await h.append(`account-${randomUUID()}`, [
      accountEvent('account.opened', { accountId: randomUUID(), owner: 'x' }),
    ]);
    const started = Date.now();
    expect(await set.waitFor(pausedAt, 5_000)).toEqual({
      ok: false,
      pending: [{ projection: 'accounts', outcome: 'stopped' }],
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    await set.resume('accounts');
    expect(await set.waitFor(pausedAt, 5_000)).toEqual({ ok: true, pending: [] });
  });

  test('when a paused projection is resumed while its idle loop reads its status, then the wait after the resume never sees the stale pause', async () => {
    // A 1 ms control poll keeps the idle loop reading the status row, so reads that began before
    // the resume committed finish after it: such a read must not pause the runner again.
    const set = h.projections([accountsProjection()], { controlPollMs: 1 });
    await set.start();
    for (let round = 0; round < 25; round++) {
      await set.pause('accounts');
      const accountId = randomUUID();
      const at = await h.append(`account-${accountId}`, accountHistory(accountId, 1));
      expect(await set.waitFor(at, 5_000)).toEqual({
        ok: false,
        pending: [{ projection: 'accounts', outcome: 'stopped' }],
      });
      await set.resume('accounts');
      expect({ round, result: await set.waitFor(at, 5_000) }).toEqual({
        round,
        result: { ok: true, pending: [] },
      });
    }
  });
});
