import { type EventOf, type userEvents } from '@meetmatt/contracts';
import { defineProjection } from '@meetmatt/infra';
import { type ReadModelTables } from '../database';

type Event = EventOf<typeof userEvents.apiKeyCreated> | EventOf<typeof userEvents.apiKeyRevoked>;

/** API keys without their secrets (those are in api_key_credentials). */
export const apiKeysProjection = defineProjection<ReadModelTables, Event>({
  name: 'api_keys',
  version: 1,
  eventTypes: ['user.api-key-created', 'user.api-key-revoked'],
  tables: ['api_keys'],
  async createTables(db, schema) {
    await db.schema
      .withSchema(schema)
      .createTable('api_keys')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('user_id', 'uuid', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('expires_at', 'timestamptz')
      .addColumn('revoked_at', 'timestamptz')
      .execute();
    await db.schema
      .withSchema(schema)
      .createIndex('api_keys_user')
      .on('api_keys')
      .columns(['user_id', 'created_at'])
      .execute();
  },
  async apply(trx, events) {
    for (const event of events) {
      if (event.type === 'user.api-key-created') {
        await trx
          .insertInto('api_keys')
          .values({
            id: event.data.keyId,
            user_id: event.data.userId,
            name: event.data.name,
            prefix: event.data.prefix,
            created_at: new Date(event.data.createdAt),
            expires_at: event.data.expiresAt ? new Date(event.data.expiresAt) : null,
            revoked_at: null,
          })
          .execute();
      } else {
        await trx
          .updateTable('api_keys')
          .set({ revoked_at: new Date(event.data.revokedAt) })
          .where('id', '=', event.data.keyId)
          .execute();
      }
    }
  },
});
