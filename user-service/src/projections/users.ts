import { type EventOf, type userEvents } from '@meetmatt/contracts';
import { defineProjection } from '@meetmatt/infra';
import { type ReadModelTables } from '../database';
import { DEFAULT_PREFERENCES } from '../domain/user';

type Event =
  | EventOf<typeof userEvents.registered>
  | EventOf<typeof userEvents.profileUpdated>
  | EventOf<typeof userEvents.roleChanged>
  | EventOf<typeof userEvents.passwordChanged>
  | EventOf<typeof userEvents.preferencesUpdated>
  | EventOf<typeof userEvents.billingDetailsChanged>;

/** Profiles, preferences and billing details, with the user stream's revision (the ETag). */
export const usersProjection = defineProjection<ReadModelTables, Event>({
  name: 'users',
  // 2: billing details (user.billing-details-changed). 3: the revision followed the email
  // verification and password reset events, then on the user stream. 4: those live in
  // user-tokens-<id> since 76d678b, whose revisions are not the profile's: they are not read.
  version: 4,
  eventTypes: [
    'user.registered',
    'user.profile-updated',
    'user.role-changed',
    'user.password-changed',
    'user.preferences-updated',
    'user.billing-details-changed',
  ],
  tables: ['users'],
  async createTables(db, schema) {
    await db.schema
      .withSchema(schema)
      .createTable('users')
      .addColumn('id', 'uuid', (c) => c.primaryKey())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('preferences', 'jsonb', (c) => c.notNull())
      .addColumn('billing', 'jsonb')
      .execute();
    await db.schema
      .withSchema(schema)
      .createIndex('users_email')
      .on('users')
      .column('email')
      .execute();
  },
  async apply(trx, events) {
    for (const event of events) {
      switch (event.type) {
        case 'user.registered':
          await trx
            .insertInto('users')
            .values({
              id: event.data.userId,
              email: event.data.email,
              display_name: event.data.displayName,
              role: event.data.role,
              created_at: new Date(event.data.registeredAt),
              updated_at: new Date(event.data.registeredAt),
              revision: event.revision,
              preferences: JSON.stringify(DEFAULT_PREFERENCES) as never,
              billing: null,
            })
            .execute();
          break;
        case 'user.profile-updated':
          await trx
            .updateTable('users')
            .set({
              ...(event.data.displayName !== undefined
                ? { display_name: event.data.displayName }
                : {}),
              ...(event.data.email !== undefined ? { email: event.data.email } : {}),
              updated_at: new Date(event.data.updatedAt),
              revision: event.revision,
            })
            .where('id', '=', event.data.userId)
            .execute();
          break;
        case 'user.role-changed':
          await trx
            .updateTable('users')
            .set({
              role: event.data.role,
              updated_at: new Date(event.data.changedAt),
              revision: event.revision,
            })
            .where('id', '=', event.data.userId)
            .execute();
          break;
        case 'user.password-changed':
          // Only the revision: it is the profile's ETag, which must follow the stream.
          await trx
            .updateTable('users')
            .set({ revision: event.revision })
            .where('id', '=', event.data.userId)
            .execute();
          break;
        case 'user.preferences-updated':
          await trx
            .updateTable('users')
            .set({
              preferences: JSON.stringify(event.data.preferences) as never,
              updated_at: new Date(event.data.updatedAt),
              revision: event.revision,
            })
            .where('id', '=', event.data.userId)
            .execute();
          break;
        case 'user.billing-details-changed':
          await trx
            .updateTable('users')
            .set({
              billing: event.data.billing ? JSON.stringify(event.data.billing) : null,
              updated_at: new Date(event.data.changedAt),
              revision: event.revision,
            })
            .where('id', '=', event.data.userId)
            .execute();
          break;
      }
    }
  },
});
