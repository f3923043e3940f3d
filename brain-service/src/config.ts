import { z } from 'zod';
import { defaultPlans } from '@meetmatt/contracts';
import {
  authConfig,
  baseServiceConfig,
  env,
  loadConfig,
  refuseUnsafeProductionSecrets,
} from '@meetmatt/infra';
import { SANDBOX_DEVIN_API_KEY } from './devin/sandbox-defaults';

const planLimits = Object.fromEntries(defaultPlans.map((p) => [p.id, p.maxAcuLimit]));
const planBuilds = Object.fromEntries(
  defaultPlans.flatMap((p) => (p.buildsIncluded ? [[p.id, p.buildsIncluded]] : [])),
);

/** A JSON object of plan ids to positive whole numbers (`what` names the numbers). */
const perPlanJson = (what: string, defaults: Record<string, number>) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: `expected a JSON object of plan ids to ${what}` });
        return z.NEVER;
      }
    })
    .pipe(
      z.record(z.string().min(1), z.number().int().positive(), {
        message: `expected a JSON object of plan ids to positive whole ${what}`,
      }),
    )
    .default(defaults);

/** Every setting of the brain service, read once at boot. Documented in .env.example. */
export const brainConfigSchema = z
  .object({
    ...baseServiceConfig,
    ...authConfig,
    PORT: env.port(3003),
    DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/meetmatt_brain'),
    DEVIN_API_URL: env.url('http://127.0.0.1:3102'),
    /** Unset locally: the sandbox's key. Required in production. */
    DEVIN_API_KEY: z.string().min(1).optional(),
    DEVIN_REQUEST_TIMEOUT_MS: env.int(30_000, 1),
    DEVIN_RETRY_ATTEMPTS: env.int(4, 1),
    DEVIN_RETRY_MIN_DELAY_MS: env.int(500, 0),
    DEVIN_RETRY_MAX_DELAY_MS: env.int(10_000, 0),
    DEVIN_MAX_ACU_LIMIT: env.int(10, 1),
    /** `{"starter": 10, "pro": 50}`: a plan id to the Devin compute budget (ACUs) of its builds. */
    DEVIN_MAX_ACU_LIMITS: perPlanJson('ACU limits', planLimits),
    DEVIN_POLL_INTERVAL_MS: env.int(15_000, 1),
    DEVIN_POLL_MAX_INTERVAL_MS: env.int(60_000, 1),
    DEVIN_BUILD_DEADLINE_MS: env.int(3 * 60 * 60 * 1000, 1),
    DEVIN_PROVIDER_ERROR_LIMIT: env.int(5, 1),
    DEVIN_FOLLOW_UP_MESSAGE: z
      .string()
      .min(1)
      .default(
        'Please continue without waiting for us: make the most reasonable choice, note it in the pull request description, and finish the agent.',
      ),
    DEVIN_FOLLOW_UP_LIMIT: env.int(2, 0),
    /** The GitHub organisation every agent repository is created under: Devin works nowhere else. */
    AGENT_REPOSITORY_OWNER: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'expected a GitHub owner name')
      .default('meetmatt-agents'),
    AGENT_BUILD_ATTEMPTS: env.int(2, 1),
    /** `{"starter": 3}`: the builds a plan includes, the first deploy counting as one. */
    AGENT_BUILDS_INCLUDED_BY_PLAN: perPlanJson('build counts', planBuilds),
    /** The builds of a plan missing from AGENT_BUILDS_INCLUDED_BY_PLAN. */
    AGENT_BUILDS_INCLUDED: env.int(3, 1),
    BUILD_SCAN_INTERVAL_MS: env.int(5_000, 1),
  })
  .superRefine((config, ctx) => {
    // Outside development: the real Devin key, never the sandbox's, and the service's own
    // database and broker accounts.
    refuseUnsafeProductionSecrets(config, ctx, {
      required: ['DEVIN_API_KEY'],
      secrets: ['DEVIN_API_KEY'],
      credentialUrls: ['DATABASE_URL', 'RABBITMQ_URL'],
      refused: [SANDBOX_DEVIN_API_KEY],
    });
    if (config.DEVIN_POLL_MAX_INTERVAL_MS < config.DEVIN_POLL_INTERVAL_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEVIN_POLL_MAX_INTERVAL_MS'],
        message: 'expected at least DEVIN_POLL_INTERVAL_MS',
      });
    }
  });

export type BrainConfig = Omit<z.infer<typeof brainConfigSchema>, 'DEVIN_API_KEY'> & {
  DEVIN_API_KEY: string;
};

export function loadBrainConfig(
  source: Record<string, string | undefined> = process.env,
): BrainConfig {
  const config = loadConfig(brainConfigSchema, source);
  return { ...config, DEVIN_API_KEY: config.DEVIN_API_KEY ?? SANDBOX_DEVIN_API_KEY };
}

/** The builds `plan` includes, the first deploy among them: the plan's own count, else the default. */
export function buildsIncludedFor(config: BrainConfig, plan: string): number {
  return config.AGENT_BUILDS_INCLUDED_BY_PLAN[plan] ?? config.AGENT_BUILDS_INCLUDED;
}

/** The Devin budget of a build of `plan`: the plan's own limit, else the default. */
export function maxAcuLimitFor(config: BrainConfig, plan: string): number {
  return config.DEVIN_MAX_ACU_LIMITS[plan] ?? config.DEVIN_MAX_ACU_LIMIT;
}
