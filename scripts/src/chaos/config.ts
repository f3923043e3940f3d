import { z } from 'zod';
import { env, loadConfig } from '@meetmatt/infra';

export const FAULT_KINDS = ['kill', 'pg-terminate', 'pg-restart', 'rabbit-restart'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const faultList = z
  .string()
  .transform((text) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.enum(FAULT_KINDS, { message: `expected a list of ${FAULT_KINDS.join(', ')}` }))
      .min(1, 'expected at least one fault kind'),
  );

/** The settings of `npm run chaos` (documented in .env.example). */
export const chaosConfigSchema = z.object({
  /** How many customer journeys to drive. */
  CHAOS_JOURNEYS: env.int(300, 1),
  /** How many journeys are in flight at once. */
  CHAOS_CONCURRENCY: env.int(12, 1),
  /** The pause between the end of one fault and the start of the next. */
  CHAOS_FAULT_INTERVAL_MS: env.int(5_000, 100),
  /**
   * Exactly this many faults, with the journeys spread over the window they take; 0: a fault
   * every interval for as long as journeys run.
   */
  CHAOS_FAULT_COUNT: env.int(0, 0),
  /** Which faults to inject. PostgreSQL and RabbitMQ restarts disturb everything on the servers. */
  CHAOS_FAULTS: faultList.default([...FAULT_KINDS]),
  /** How long RabbitMQ stays stopped in a rabbit-restart fault. */
  CHAOS_BROKER_DOWN_MS: env.int(2_000, 0),
  /** The settle time the run must meet after its last fault. */
  CHAOS_SETTLE_TARGET_MS: env.int(30_000, 1),
  /** How long to wait for the system to settle before giving up. */
  CHAOS_SETTLE_TIMEOUT_MS: env.int(120_000, 1_000),
  /** How long a journey waits for its payment to reach a final status. */
  CHAOS_JOURNEY_TIMEOUT_MS: env.int(180_000, 1_000),
  /** How long one call of a journey keeps retrying (502/503/504/429, lost connections). */
  CHAOS_CALL_BUDGET_MS: env.int(60_000, 1_000),
  /** Keep the run's databases, vhost and logs afterwards (they are dropped otherwise). */
  CHAOS_KEEP: env.bool(false),
  /** The PostgreSQL cluster a pg-restart fault restarts (default: the only one in /etc/postgresql). */
  CHAOS_PG_CLUSTER: z.string().optional(),
});

export type ChaosConfig = z.infer<typeof chaosConfigSchema>;

export function loadChaosConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig(chaosConfigSchema, source);
}
