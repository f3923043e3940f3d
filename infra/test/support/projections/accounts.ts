import { randomUUID } from 'node:crypto';
import { type Kysely, type Transaction, sql } from 'kysely';
// From the sources, not '@meetmatt/infra': the crash test's child process loads this file, and
// the whole package (EventStoreDB client, express…) takes seconds to load there.
import { type NewEvent, type RecordedEvent } from '../../../src/event-store/types';
import {
  type ProjectedEvent,
  type Projection,
  defineProjection,
} from '../../../src/projections/projection';

/**
 * The projection most tests run: accounts and their balances, plus one row of totals that must
 * always agree with the accounts table (the invariant readers check during a rebuild). Version 2
 * adds a column, as a real change of read model would.
 */

export type AccountEvent =
  | { type: 'account.opened'; data: { accountId: string; owner: string } }
  | { type: 'account.deposited'; data: { accountId: string; amount: number } }
  | { type: 'account.withdrawn'; data: { accountId: string; amount: number } };

export const ACCOUNT_EVENT_TYPES = ['account.opened', 'account.deposited', 'account.withdrawn'];

export interface AccountsDb {
  accounts: { id: string; owner: string; balance: number; events: number; last_type?: string };
  account_totals: { id: number; accounts: number; balance: number; events: number };
}

export interface AccountRow {
  id: string;
  owner: string;
  balance: number;
  events: number;
  last_type?: string;
}

export interface AccountsModel {
  accounts: AccountRow[];
  totals: { accounts: number; balance: number; events: number };
}

export interface AccountsOptions {
  version?: 1 | 2;
  /** Called before each event is applied: tests gate or slow a batch here. */
  beforeEvent?: (event: RecordedEvent, index: number, batch: RecordedEvent[]) => Promise<void>;
  /** Counts the events each instance applied (committed or not). */
  onApply?: (events: RecordedEvent[]) => void;
  batchSize?: number;
}

export function accountsProjection(options: AccountsOptions = {}): Projection {
  const version = options.version ?? 1;
  return defineProjection<AccountsDb, AccountEvent>({
    name: 'accounts',
    version,
    eventTypes: ['account.opened', 'account.deposited', 'account.withdrawn'],
    tables: ['accounts', 'account_totals'],
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    async createTables(db, schema) {
      await createAccountsTables(db, schema, version);
    },
    async apply(trx, events) {
      options.onApply?.(events);
      const totals = { accounts: 0, balance: 0, events: 0 };
      for (const [index, event] of events.entries()) {
        await options.beforeEvent?.(event, index, events);
        await applyOne(trx, event, version, totals);
      }
      await trx
        .updateTable('account_totals')
        .set((eb) => ({
          accounts: eb('accounts', '+', totals.accounts),
          balance: eb('balance', '+', totals.balance),
          events: eb('events', '+', totals.events),
        }))
        .execute();
    },
  });
}

async function createAccountsTables(db: Kysely<AccountsDb>, schema: string, version: number) {
  let accounts = db.schema
    .withSchema(schema)
    .createTable('accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('balance', 'bigint', (c) => c.notNull())
    .addColumn('events', 'integer', (c) => c.notNull());
  if (version >= 2) accounts = accounts.addColumn('last_type', 'text');
  await accounts.execute();
  await db.schema
    .withSchema(schema)
    .createTable('account_totals')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('accounts', 'integer', (c) => c.notNull())
    .addColumn('balance', 'bigint', (c) => c.notNull())
    .addColumn('events', 'integer', (c) => c.notNull())
    .execute();
  // Unqualified on purpose: the runner's search_path puts it in `schema`.
  await sql`INSERT INTO account_totals (id, accounts, balance, events) VALUES (1, 0, 0, 0)`.execute(
    db,
  );
}

/** Writes one event's account row; the totals row is written once per batch. */
async function applyOne(
  trx: Transaction<AccountsDb>,
  event: ProjectedEvent<AccountEvent>,
  version: number,
  totals: { accounts: number; balance: number; events: number },
): Promise<void> {
  const last = version >= 2 ? { last_type: event.type } : {};
  if (event.type === 'account.opened') {
    await trx
      .insertInto('accounts')
      .values({ id: event.data.accountId, owner: event.data.owner, balance: 0, events: 1, ...last })
      .execute();
    totals.accounts += 1;
    totals.events += 1;
    return;
  }
  const amount = event.data.amount;
  if (!Number.isInteger(amount) || amount <= 0)
    throw new Error(`amount ${JSON.stringify(amount)} is not a positive integer`);
  const delta = event.type === 'account.deposited' ? amount : -amount;
  const updated = await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', delta), events: eb('events', '+', 1), ...last }))
    .where('id', '=', event.data.accountId)
    .executeTakeFirst();
  if (updated.numUpdatedRows !== 1n) throw new Error(`no account ${event.data.accountId}`);
  totals.balance += delta;
  totals.events += 1;
}

/** The read model computed in memory from the events: what the tables must equal. */
export function foldAccounts(events: readonly RecordedEvent[], version: 1 | 2 = 1): AccountsModel {
  const accounts = new Map<string, AccountRow>();
  const totals = { accounts: 0, balance: 0, events: 0 };
  for (const event of events) {
    if (!ACCOUNT_EVENT_TYPES.includes(event.type)) continue;
    const e = event as unknown as ProjectedEvent<AccountEvent>;
    const last = version >= 2 ? { last_type: e.type } : {};
    if (e.type === 'account.opened') {
      accounts.set(e.data.accountId, {
        id: e.data.accountId,
        owner: e.data.owner,
        balance: 0,
        events: 1,
        ...last,
      });
      totals.accounts += 1;
    } else {
      const row = accounts.get(e.data.accountId)!;
      const delta = e.type === 'account.deposited' ? e.data.amount : -e.data.amount;
      accounts.set(row.id, {
        ...row,
        balance: row.balance + delta,
        events: row.events + 1,
        ...last,
      });
      totals.balance += delta;
    }
    totals.events += 1;
  }
  return { accounts: [...accounts.values()].sort(byId), totals };
}

/** The read model as the live tables hold it. */
export async function readAccounts(
  db: Kysely<unknown>,
  version: 1 | 2 = 1,
): Promise<AccountsModel> {
  const typed = db as Kysely<AccountsDb>;
  const rows = await typed
    .selectFrom('accounts')
    .select(['id', 'owner', 'balance', 'events'])
    .$if(version >= 2, (q) => q.select('last_type'))
    .orderBy('id')
    .execute();
  const totals = await typed
    .selectFrom('account_totals')
    .select(['accounts', 'balance', 'events'])
    .executeTakeFirstOrThrow();
  return {
    accounts: rows.map((r) => ({ ...r, balance: Number(r.balance) })).sort(byId),
    totals: { ...totals, balance: Number(totals.balance) },
  };
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const metadata = () => ({
  correlationId: randomUUID(),
  causationId: randomUUID(),
  schemaVersion: 1,
});

/** One account's history: opened, then `deposits` deposits of 1..9 and a withdrawal. */
export function accountHistory(accountId = randomUUID(), deposits = 3): NewEvent[] {
  const events: NewEvent[] = [
    {
      type: 'account.opened',
      data: { accountId, owner: `owner-${accountId.slice(0, 8)}` },
      metadata: metadata(),
    },
  ];
  for (let i = 0; i < deposits; i++)
    events.push({
      type: 'account.deposited',
      data: { accountId, amount: 1 + (i % 9) },
      metadata: metadata(),
    });
  events.push({ type: 'account.withdrawn', data: { accountId, amount: 1 }, metadata: metadata() });
  return events;
}

export function accountEvent(type: AccountEvent['type'], data: AccountEvent['data']): NewEvent {
  return { type, data, metadata: metadata() };
}
