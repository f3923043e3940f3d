import { z } from 'zod';
import { baseServiceConfig, env, loadConfig } from '@meetmatt/infra';

/** Every setting of the user service, read once at boot. Documented in .env.example. */
export const userConfigSchema = z.object({
  ...baseServiceConfig,
  PORT: env.port(3002),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/meetmatt_user'),
});

export type UserConfig = z.infer<typeof userConfigSchema>;

export function loadUserConfig(
  source: Record<string, string | undefined> = process.env,
): UserConfig {
  return loadConfig(userConfigSchema, source);
}
