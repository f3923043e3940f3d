import { type EventOf, type userEvents } from '@meetmatt/contracts';
import { defineProjection } from '@meetmatt/infra';
import { type ReadModelTables } from '../database';

type Event =
  EventOf<typeof userEvents.notificationCreated> | EventOf<typeof userEvents.notificationRead>;

/** Each user's notifications, newest first, read or not. */
export const notificationsProjection = defineProjection<ReadModelTables, Event>({
  name: 'notifications',
  version: 1,
  eventTypes: ['user.notification-created', 'user.notification-read'],
  tables: ['notifications'],
  async createTables(db, schema) {
    await db.schema
      .withSchema(schema)
      .createTable('notifications')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('user_id', 'uuid', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('link', 'text')
      .addColumn('correlation_id', 'text')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('read_at', 'timestamptz')
      .execute();
    await db.schema
      .withSchema(schema)
      .createIndex('notifications_user')
      .on('notifications')
      .columns(['user_id', 'created_at desc'])
      .execute();
  },
  async apply(trx, events) {
    for (const event of events) {
      if (event.type === 'user.notification-created') {
        const d = event.data;
        await trx
          .insertInto('notifications')
          .values({
            id: d.notificationId,
            user_id: d.userId,
            kind: d.kind,
            title: d.title,
            body: d.body,
            link: d.link,
            correlation_id: d.correlationId,
            created_at: new Date(d.createdAt),
            read_at: null,
          })
          .execute();
      } else {
        await trx
          .updateTable('notifications')
          .set({ read_at: new Date(event.data.readAt) })
          .where('id', '=', event.data.notificationId)
          .where('read_at', 'is', null)
          .execute();
      }
    }
  },
});
