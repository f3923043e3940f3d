import { z } from 'zod';
import { baseServiceConfig, env, loadConfig } from '@meetmatt/infra';

/** Every setting of the payment service, read once at boot. Documented in .env.example. */
export const paymentConfigSchema = z.object({
  ...baseServiceConfig,
  PORT: env.port(3001),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/meetmatt_payment'),
});

export type PaymentConfig = z.infer<typeof paymentConfigSchema>;

export function loadPaymentConfig(
  source: Record<string, string | undefined> = process.env,
): PaymentConfig {
  return loadConfig(paymentConfigSchema, source);
}
