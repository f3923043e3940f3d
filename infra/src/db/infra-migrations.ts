import { type Migrations } from './migrations';

/**
 * The tables infra owns in every service's database (event store, checkpoints, inbox). Each
 * mechanism contributes its migrations here, named `<yyyymmdd>-<nn>-<what>` so they sort in order.
 */
export const infraMigrations: Migrations = {};
