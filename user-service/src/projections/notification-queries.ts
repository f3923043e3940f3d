import { type Kysely } from 'kysely';
import { type NotificationKind } from '@meetmatt/contracts';
import { type ReadModelTables } from '../database';

export interface NotificationView {
  id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  link: string | null;
  correlationId: string | null;
  read: boolean;
  createdAt: string;
}

type Row = Pick<
  ReadModelTables['notifications'],
  'id' | 'kind' | 'title' | 'body' | 'link' | 'correlation_id' | 'created_at' | 'read_at'
>;

const COLUMNS = [
  'id',
  'kind',
  'title',
  'body',
  'link',
  'correlation_id',
  'created_at',
  'read_at',
] as const;

export function notificationView(row: Row): NotificationView {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    body: row.body,
    link: row.link,
    correlationId: row.correlation_id,
    read: row.read_at !== null,
    createdAt: row.created_at.toISOString(),
  };
}

/** Newest first, with how many are unread in all. */
export async function listNotifications(
  db: Kysely<ReadModelTables>,
  userId: string,
  options: { unreadOnly: boolean; limit: number },
): Promise<{ notifications: NotificationView[]; unread: number }> {
  // One snapshot for both reads: apart, a notification committed in between showed in the list
  // while the unread count still missed it.
  const { rows, unread } = await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => ({
      rows: await trx
        .selectFrom('notifications')
        .select(COLUMNS)
        .where('user_id', '=', userId)
        .$if(options.unreadOnly, (q) => q.where('read_at', 'is', null))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(options.limit)
        .execute(),
      unread: await trx
        .selectFrom('notifications')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('read_at', 'is', null)
        .executeTakeFirstOrThrow(),
    }));
  return { notifications: rows.map(notificationView), unread: Number(unread.n) };
}

/** What came after `lastId` (an SSE client resuming), oldest first. */
export async function notificationsAfter(
  db: Kysely<ReadModelTables>,
  userId: string,
  lastId: string,
): Promise<NotificationView[]> {
  const last = await db
    .selectFrom('notifications')
    .select('created_at')
    .where('id', '=', lastId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!last) return [];
  const rows = await db
    .selectFrom('notifications')
    .select(COLUMNS)
    .where('user_id', '=', userId)
    .where('created_at', '>=', last.created_at)
    .where('id', '!=', lastId)
    .orderBy('created_at', 'asc')
    .limit(100)
    .execute();
  return rows.map(notificationView);
}
