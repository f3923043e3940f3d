import { checkpointsMigration } from '../coordination/checkpoint-store';
import { eventStoreMigration } from '../event-store/postgres/schema';
import { projectionsMigration } from '../projections/schema';
import { inboxMigration } from '../messaging/inbox';
import { revokedCredentialsMigration } from '../auth/revoked-credentials';
import { mailOutboxMigration } from '../mail/outbox';
import { type Migrations } from './migrations';

/**
 * The tables infra owns in every service's database (event store, checkpoints, inbox). Each
 * mechanism contributes its migrations here, named `<yyyymmdd>-<nn>-<what>` so they sort in order.
 * The event store's tables exist even when EventStoreDB holds the events: they cost nothing empty.
 */
export const infraMigrations: Migrations = {
  '20261127-01-event-store': eventStoreMigration,
  '20261127-02-checkpoints': checkpointsMigration,
  '20261128-01-projections': projectionsMigration,
  '20261128-02-inbox': inboxMigration,
  '20261202-01-revoked-credentials': revokedCredentialsMigration,
  '20261202-02-mail-outbox': mailOutboxMigration,
};
