import { type Kysely } from 'kysely';
import { type BillingDetails, type Preferences, type Role } from '@meetmatt/contracts';
import { type ReadModelTables } from '../database';

export interface UserView {
  id: string;
  email: string;
  displayName: string;
  role: Role;
  createdAt: string;
  billing: BillingDetails | null;
}

export interface Versioned<T> {
  value: T;
  /** The user stream's revision: the ETag. */
  revision: number;
}

/** A profile from the read model, with its revision for the ETag. */
export async function getUser(
  db: Kysely<ReadModelTables>,
  userId: string,
): Promise<Versioned<UserView> | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['id', 'email', 'display_name', 'role', 'created_at', 'revision', 'billing'])
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    value: {
      id: row.id,
      email: row.email,
      displayName: row.display_name,
      role: row.role,
      createdAt: row.created_at.toISOString(),
      billing: row.billing,
    },
    revision: row.revision,
  };
}

export async function getPreferences(
  db: Kysely<ReadModelTables>,
  userId: string,
): Promise<Versioned<Preferences> | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['preferences', 'revision'])
    .where('id', '=', userId)
    .executeTakeFirst();
  return row ? { value: row.preferences, revision: row.revision } : undefined;
}
