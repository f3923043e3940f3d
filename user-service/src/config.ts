import { z } from 'zod';
import { accessTokenDefaults } from '@meetmatt/contracts';
import {
  authConfig,
  baseServiceConfig,
  env,
  loadConfig,
  mailConfig,
  refuseUnsafeProductionSecrets,
} from '@meetmatt/infra';
import { parseSigningKeys } from './application/signing-keys';

/** One private signing key as a JWK: Ed25519 (OKP), with its `kid`. */
const PrivateSigningJwkSchema = z.looseObject({
  kty: z.literal('OKP', { message: 'expected kty "OKP" (Ed25519 keys only)' }),
  crv: z.literal('Ed25519', { message: 'expected crv "Ed25519"' }),
  d: z.string().min(1, 'expected the private part d'),
  x: z.string().min(1, 'expected the public part x'),
  kid: z.string().min(1, 'expected a kid'),
});
export type PrivateSigningJwk = z.infer<typeof PrivateSigningJwkSchema>;

/**
 * `AUTH_SIGNING_KEYS` (or `AUTH_SIGNING_KEYS_FILE`): private keys, oldest first; the last one
 * signs. A JWKS, one JWK or PEM (parseSigningKeys).
 */
const signingKeys = z
  .string()
  .transform((text, ctx) => {
    try {
      return parseSigningKeys(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .object({ keys: z.array(PrivateSigningJwkSchema).min(1, 'expected at least one key') })
      .refine((jwks) => new Set(jwks.keys.map((k) => k.kid)).size === jwks.keys.length, {
        message: 'every key needs its own kid',
      }),
  );

/** Every setting of the user service, read once at boot. Documented in .env.example. */
export const userConfigSchema = z
  .object({
    ...baseServiceConfig,
    PORT: env.port(3002),
    DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/meetmatt_user'),
    AUTH_ISSUER: authConfig.AUTH_ISSUER,
    AUTH_AUDIENCE: authConfig.AUTH_AUDIENCE,
    AUTH_SIGNING_KEYS: signingKeys.optional(),
    AUTH_SIGNING_KEYS_FROM_DATABASE: env.bool(false),
    ACCESS_TOKEN_TTL_SECONDS: env.int(accessTokenDefaults.ttlSeconds, 60),
    API_KEY_TOKEN_TTL_SECONDS: env.int(accessTokenDefaults.apiKeyTokenTtlSeconds, 60),
    REFRESH_TOKEN_TTL_DAYS: env.int(30, 1),
    PASSWORD_SCRYPT_LOG_N: z.coerce
      .number({ message: 'expected a number' })
      .int('expected a whole number')
      .min(10, 'expected at least 10')
      .max(20, 'expected at most 20')
      .default(17),
    LOGIN_FAILURES_BEFORE_DELAY: env.int(5, 1),
    LOGIN_MAX_DELAY_SECONDS: env.int(900, 1),
    PASSWORD_HASH_CONCURRENCY: env.int(4, 1),
    PASSWORD_HASH_QUEUE: env.int(16, 0),
    PASSWORD_HASH_WAIT_MS: env.int(5_000, 1),
    AUTH_RATE_LIMIT_WINDOW_SECONDS: env.int(60, 1),
    REGISTER_LIMIT_PER_ADDRESS: env.int(60, 1),
    REGISTER_LIMIT_PER_EMAIL: env.int(5, 1),
    LOGIN_LIMIT_PER_ADDRESS: env.int(120, 1),
    LOGIN_LIMIT_PER_ACCOUNT: env.int(20, 1),
    RECENT_AUTH_MAX_AGE_MS: env.int(600_000, 1_000),
    NOTIFICATION_STREAMS_PER_USER: env.int(5, 1),
    /** How long a stream ticket (POST /notifications/stream-ticket) may wait for its one use. */
    STREAM_TICKET_TTL_MS: env.int(60_000, 1_000),
    API_KEY_CACHE_TTL_MS: env.int(30_000, 0),
    /** What the gateway sends in X-Gateway-Secret; unset, /auth/verify answers nobody (404). */
    GATEWAY_SHARED_SECRET: z.string().trim().min(16, 'expected at least 16 characters').optional(),
    /** Still accepted while the gateways move to a new GATEWAY_SHARED_SECRET (rotation). */
    GATEWAY_SHARED_SECRET_PREVIOUS: z
      .string()
      .trim()
      .min(16, 'expected at least 16 characters')
      .optional(),
    USAGE_FLUSH_INTERVAL_MS: env.int(5_000, 10),
    SSE_HEARTBEAT_MS: env.int(15_000, 100),
    ...mailConfig,
    /**
     * Derives the tokens of verification and reset links (HMAC): the events keep only their
     * hash, and the mail is rendered from the event. Shared by every instance; unset, derived
     * from the oldest AUTH_SIGNING_KEYS key (required in production), else a development value.
     */
    EMAIL_TOKEN_SECRET: z.string().trim().min(32, 'expected at least 32 characters').optional(),
    EMAIL_VERIFICATION_TTL_MS: env.int(86_400_000, 60_000),
    PASSWORD_RESET_TTL_MS: env.int(3_600_000, 60_000),
    PASSWORD_RESET_LIMIT_PER_ADDRESS: env.int(20, 1),
    PASSWORD_RESET_LIMIT_PER_EMAIL: env.int(5, 1),
  })
  .superRefine((config, ctx) => {
    if (config.NODE_ENV !== 'production') return;
    // The signing key comes from a secret, never from the database, outside development.
    if (config.AUTH_SIGNING_KEYS_FROM_DATABASE) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_SIGNING_KEYS_FROM_DATABASE'],
        message:
          'refused when NODE_ENV=production: the signing key comes from AUTH_SIGNING_KEYS or AUTH_SIGNING_KEYS_FILE',
      });
    }
    if (!config.AUTH_SIGNING_KEYS) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_SIGNING_KEYS'],
        message:
          'required when NODE_ENV=production: Ed25519 private keys (a JWKS, a JWK or PEM), or AUTH_SIGNING_KEYS_FILE naming a file that holds them',
      });
    }
    refuseUnsafeProductionSecrets(config, ctx, {
      credentialUrls: ['DATABASE_URL', 'RABBITMQ_URL'],
      required: ['GATEWAY_SHARED_SECRET'],
      secrets: ['GATEWAY_SHARED_SECRET', 'EMAIL_TOKEN_SECRET', 'SMTP_PASSWORD'],
    });
  });

export type UserConfig = z.infer<typeof userConfigSchema>;

export function loadUserConfig(
  source: Record<string, string | undefined> = process.env,
): UserConfig {
  return loadConfig(userConfigSchema, source);
}
