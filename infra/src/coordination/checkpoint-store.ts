import type pg from 'pg';
import { type Migration, sql } from 'kysely';
import { type Position, formatPosition, parsePosition } from '../event-store/types';

export const checkpointsMigration: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE checkpoints (
        name text PRIMARY KEY,
        position text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
  },
  async down(db) {
    await sql`DROP TABLE IF EXISTS checkpoints`.execute(db);
  },
};

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * Named positions in `$all` for subscribers whose work is outside the database (the relay
 * publishing to RabbitMQ). Projections keep theirs in the same transaction as their tables.
 */
export class CheckpointStore {
  constructor(private readonly db: Queryable) {}

  async load(name: string): Promise<Position | undefined> {
    const { rows } = await this.db.query<{ position: string }>(
      'SELECT position FROM checkpoints WHERE name = $1',
      [name],
    );
    return rows[0] ? parsePosition(rows[0].position) : undefined;
  }

  async save(name: string, position: Position, client: Queryable = this.db): Promise<void> {
    await client.query(
      `INSERT INTO checkpoints (name, position) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
      [name, formatPosition(position)],
    );
  }

  async reset(name: string): Promise<void> {
    await this.db.query('DELETE FROM checkpoints WHERE name = $1', [name]);
  }

  async list(): Promise<{ name: string; position: Position; updatedAt: Date }[]> {
    const { rows } = await this.db.query<{ name: string; position: string; updated_at: Date }>(
      'SELECT name, position, updated_at FROM checkpoints ORDER BY name',
    );
    return rows.map((r) => ({
      name: r.name,
      position: parsePosition(r.position),
      updatedAt: r.updated_at,
    }));
  }
}
