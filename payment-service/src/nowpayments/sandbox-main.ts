import { createLogger, env, loadConfig, runMain } from '@meetmatt/infra';
import { z } from 'zod';
import { createNowPaymentsSandbox } from './sandbox';

/**
 * The NOWPayments sandbox as a process of its own, run by `npm start` when no real NOWPayments
 * key is set:  node --import tsx payment-service/src/nowpayments/sandbox-main.ts
 * The defaults are for local use only; the payment service must be given the same key and secret.
 */
export const sandboxConfigSchema = z.object({
  NOWPAYMENTS_SANDBOX_PORT: env.port(3101),
  HOST: z.string().default('127.0.0.1'),
  NOWPAYMENTS_API_KEY: z.string().min(1).default('sandbox-api-key'),
  NOWPAYMENTS_IPN_SECRET: z.string().trim().min(1).default('sandbox-ipn-secret'),
  NOWPAYMENTS_SANDBOX_STEP_MS: env.int(1_500, 1),
  LOG_LEVEL: env.logLevel().default('info'),
  LOG_FORMAT: env.logFormat().optional(),
});
export type SandboxConfig = z.infer<typeof sandboxConfigSchema>;

const NAME = 'nowpayments-sandbox';

async function main() {
  const config = loadConfig(sandboxConfigSchema);
  const logger = createLogger({
    service: NAME,
    level: config.LOG_LEVEL,
    ...(config.LOG_FORMAT ? { format: config.LOG_FORMAT } : {}),
  });
  const sandbox = createNowPaymentsSandbox({
    apiKey: config.NOWPAYMENTS_API_KEY,
    ipnSecret: config.NOWPAYMENTS_IPN_SECRET,
    stepMs: config.NOWPAYMENTS_SANDBOX_STEP_MS,
    logger,
  });
  const { url, port } = await sandbox.start(config.NOWPAYMENTS_SANDBOX_PORT, config.HOST);
  return { url, port, logger, stop: () => sandbox.stop() };
}

if (require.main === module) runMain(NAME, main);
