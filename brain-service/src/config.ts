import { z } from 'zod';
import { baseServiceConfig, env, loadConfig } from '@meetmatt/infra';

/** Every setting of the brain service, read once at boot. Documented in .env.example. */
export const brainConfigSchema = z.object({
  ...baseServiceConfig,
  PORT: env.port(3003),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/meetmatt_brain'),
});

export type BrainConfig = z.infer<typeof brainConfigSchema>;

export function loadBrainConfig(
  source: Record<string, string | undefined> = process.env,
): BrainConfig {
  return loadConfig(brainConfigSchema, source);
}
