import { z } from 'zod';
import { createLogger, env, loadConfig, runMain } from '@meetmatt/infra';
import { createDevinSandbox } from './sandbox';
import { SANDBOX_DEVIN_API_KEY, SANDBOX_DEVIN_PORT } from './sandbox-defaults';

/**
 * The Devin sandbox as a process of its own, for `npm start` without a real Devin key:
 * `node --import tsx brain-service/src/devin/sandbox-main.ts`. The brain then points
 * DEVIN_API_URL at it and sends the same DEVIN_API_KEY.
 */
const sandboxConfigSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  DEVIN_SANDBOX_PORT: env.port(SANDBOX_DEVIN_PORT),
  /** A local stand-in, not a secret: the sandbox only ever accepts this key. */
  DEVIN_API_KEY: env.string(SANDBOX_DEVIN_API_KEY),
  DEVIN_SANDBOX_STEP_MS: env.int(1500, 0),
  LOG_LEVEL: env.logLevel().default('info'),
  LOG_FORMAT: env.logFormat().optional(),
});

const NAME = 'devin-sandbox';

runMain(NAME, async () => {
  const config = loadConfig(sandboxConfigSchema);
  const logger = createLogger({
    service: NAME,
    level: config.LOG_LEVEL,
    ...(config.LOG_FORMAT ? { format: config.LOG_FORMAT } : {}),
  });
  const sandbox = createDevinSandbox({
    apiKey: config.DEVIN_API_KEY,
    stepMs: config.DEVIN_SANDBOX_STEP_MS,
    logger,
  });
  const { url, port } = await sandbox.start(config.DEVIN_SANDBOX_PORT, config.HOST);
  return { url, port, logger, stop: () => sandbox.stop() };
});
