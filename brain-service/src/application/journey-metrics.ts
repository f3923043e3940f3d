import { type Kysely, sql } from 'kysely';
import { type Metrics } from '@meetmatt/infra';
import { type BrainDb } from '../database';

/**
 * The journey's one gap the bus metrics cannot see: a payment confirmed for automatic deploy
 * that the brain has recorded (its `payments` table, written when the message is handled) but
 * for which no deploy was requested (no row in `agents`). `journey_deploy_pending_seconds` is
 * how long the oldest such payment has waited since NOWPayments confirmed it; the alert
 * `PaymentConfirmedNoDeploy` fires past a minute. A confirmation that never reaches the brain
 * shows as relay lag or consumer backlog instead (their own alerts).
 */
export function registerJourneyMetrics(metrics: Metrics, db: Kysely<BrainDb>): void {
  let last: Promise<{ pending: number; oldest: number } | undefined> | undefined;
  let at = 0;
  // Both gauges read one query per scrape.
  const read = () => {
    if (!last || Date.now() - at > 1_000) {
      at = Date.now();
      last = pendingDeploys(db).catch(() => undefined);
    }
    return last;
  };
  metrics.gauge(
    'journey_deploys_pending',
    'Payments confirmed for automatic deploy with no deploy requested yet',
    [],
    async (g) => {
      const result = await read();
      if (result) g.set(result.pending);
    },
  );
  metrics.gauge(
    'journey_deploy_pending_seconds',
    'Seconds since the oldest payment confirmed for automatic deploy was confirmed, with no deploy requested yet (0 when none waits)',
    [],
    async (g) => {
      const result = await read();
      if (result) g.set(result.oldest);
    },
  );
}

async function pendingDeploys(db: Kysely<BrainDb>): Promise<{ pending: number; oldest: number }> {
  const { rows } = await sql<{ pending: number; oldest: number }>`
    SELECT count(*)::int AS pending,
           coalesce(extract(epoch FROM now() - min(coalesce(p.confirmed_at, p.updated_at))), 0)::float8
             AS oldest
      FROM payments p
     WHERE p.status = 'confirmed' AND p.auto_deploy IS TRUE
       AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.payment_id = p.payment_id)`.execute(db);
  return rows[0] ?? { pending: 0, oldest: 0 };
}
