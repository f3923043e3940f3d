import { type Migration, sql } from 'kysely';
import type pg from 'pg';

export const revokedCredentialsMigration: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE revoked_credentials (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('session', 'api_key')),
        user_id text NOT NULL,
        revoked_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`.execute(db);
    await sql`CREATE INDEX revoked_credentials_recorded_at ON revoked_credentials (recorded_at)`.execute(
      db,
    );
    await sql`CREATE INDEX revoked_credentials_revoked_at ON revoked_credentials (revoked_at)`.execute(
      db,
    );
  },
  async down(db) {
    await sql`DROP TABLE IF EXISTS revoked_credentials`.execute(db);
  },
};

export interface RevokedCredential {
  /** The session id (claim `sid`) or the API key id (claim `akid`). */
  id: string;
  kind: 'session' | 'api_key';
  userId: string;
  revokedAt: Date;
}

/** What the table holds since some point, and the database's clock at the time of reading. */
export interface RevokedSince {
  rows: { id: string; revokedAt: Date }[];
  readAt: Date;
}

/**
 * The revocations a service has consumed, in its own database: the bus delivers each one to a
 * single instance of the service (one shared queue), and this table is how the other instances,
 * and an instance started later, learn of it. Keyed by the credential id, so recording the same
 * revocation twice (a redelivery) is harmless without an inbox.
 */
export class RevokedCredentials {
  constructor(private readonly pool: pg.Pool) {}

  /** True when the row is new (false for a redelivery). */
  async record(credential: RevokedCredential): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO revoked_credentials (id, kind, user_id, revoked_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO NOTHING`,
      [credential.id, credential.kind, credential.userId, credential.revokedAt],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /** Revocations whose tokens may still be unexpired: what a booting instance loads. */
  async revokedWithin(windowMs: number): Promise<RevokedSince> {
    return this.read('revoked_at > now() - make_interval(secs => $1::double precision)', [
      windowMs / 1000,
    ]);
  }

  /**
   * Rows recorded since `since`. The caller overlaps its reads (passes a `since` earlier than its
   * last `readAt`), since a row's `recorded_at` is stamped before its transaction commits.
   */
  async recordedSince(since: Date): Promise<RevokedSince> {
    return this.read('recorded_at >= $1', [since]);
  }

  /** Forgets revocations older than the window: their tokens have all expired. */
  async prune(windowMs: number): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM revoked_credentials
       WHERE revoked_at < now() - make_interval(secs => $1::double precision)`,
      [windowMs / 1000],
    );
    return result.rowCount ?? 0;
  }

  private async read(where: string, params: unknown[]): Promise<RevokedSince> {
    // The extra row carries the database's clock even when nothing matched.
    const { rows } = await this.pool.query<{
      id: string | null;
      revoked_at: Date | null;
      read_at: Date;
    }>(
      `SELECT id, revoked_at, now() AS read_at FROM revoked_credentials WHERE ${where}
       UNION ALL SELECT NULL, NULL, now()`,
      params,
    );
    return {
      rows: rows.flatMap((r) =>
        r.id && r.revoked_at ? [{ id: r.id, revokedAt: r.revoked_at }] : [],
      ),
      readAt: rows[0]?.read_at ?? new Date(),
    };
  }
}
