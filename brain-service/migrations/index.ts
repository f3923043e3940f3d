import { type Migrations } from '@meetmatt/infra';

/** The brain service's own tables, in order. Projection tables belong to their projections. */
export const migrations: Migrations = {};
