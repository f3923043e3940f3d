import { type EventOf, type userEvents } from '@meetmatt/contracts';
import { defineProjection } from '@meetmatt/infra';
import { type ReadModelTables } from '../database';

type Event = EventOf<typeof userEvents.sessionStarted> | EventOf<typeof userEvents.sessionRevoked>;

/** Sessions, for GET /auth/sessions, logout-all and the revocations a booting instance loads. */
export const sessionsProjection = defineProjection<ReadModelTables, Event>({
  name: 'sessions',
  version: 1,
  eventTypes: ['user.session-started', 'user.session-revoked'],
  tables: ['sessions'],
  async createTables(db, schema) {
    await db.schema
      .withSchema(schema)
      .createTable('sessions')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('user_id', 'uuid', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('user_agent', 'text')
      .addColumn('ip', 'text')
      .addColumn('revoked_at', 'timestamptz')
      .addColumn('revoke_reason', 'text')
      .execute();
    await db.schema
      .withSchema(schema)
      .createIndex('sessions_user')
      .on('sessions')
      .columns(['user_id', 'created_at'])
      .execute();
    await db.schema
      .withSchema(schema)
      .createIndex('sessions_revoked')
      .on('sessions')
      .column('revoked_at')
      .where('revoked_at', 'is not', null)
      .execute();
  },
  async apply(trx, events) {
    for (const event of events) {
      if (event.type === 'user.session-started') {
        await trx
          .insertInto('sessions')
          .values({
            id: event.data.sessionId,
            user_id: event.data.userId,
            created_at: new Date(event.data.startedAt),
            user_agent: event.data.userAgent,
            ip: event.data.ip,
            revoked_at: null,
            revoke_reason: null,
          })
          .execute();
      } else {
        await trx
          .updateTable('sessions')
          .set({ revoked_at: new Date(event.data.revokedAt), revoke_reason: event.data.reason })
          .where('id', '=', event.data.sessionId)
          .execute();
      }
    }
  },
});
