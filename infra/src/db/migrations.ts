import { type Kysely, type Migration, Migrator } from 'kysely';

export type Migrations = Record<string, Migration>;

/**
 * Runs one set of migrations with its own bookkeeping table, so infra's tables and each
 * service's tables migrate independently. Kysely's migrator takes a lock, so two processes
 * booting at once do not run a migration twice.
 */
export async function migrate(
  db: Kysely<unknown>,
  set: string,
  migrations: Migrations,
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: `${set}_migrations`,
    migrationLockTableName: `${set}_migrations_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason =
      error instanceof Error ? error.message : JSON.stringify(error ?? 'unknown error');
    throw new Error(`migration ${failed?.migrationName ?? '(setup)'} of ${set} failed: ${reason}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
