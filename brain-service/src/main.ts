import { brainOpenApi, services } from '@meetmatt/contracts';
import {
  type Logger,
  type RunningService,
  ServiceHost,
  createHttpApp,
  runMain,
} from '@meetmatt/infra';
import { migrations } from '../migrations';
import { type BrainConfig, loadBrainConfig } from './config';

export interface StartBrainOptions {
  /** Settings over the environment (tests pass PORT: 0 and their own database). */
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

export interface RunningBrainService extends RunningService {
  config: BrainConfig;
  host: ServiceHost;
}

/** The composition root: the only place where the brain service's pieces are wired together. */
export async function start(options: StartBrainOptions = {}): Promise<RunningBrainService> {
  const config = loadBrainConfig({ ...process.env, ...options.env });
  const host = await ServiceHost.create({
    name: services.brain.name,
    config,
    migrations,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    const app = createHttpApp({
      service: services.brain.name,
      logger: host.logger,
      metrics: host.metrics,
      readiness: host.readiness,
      openapi: brainOpenApi(),
      routes: () => undefined,
    });
    const server = await host.listen(app);
    return {
      config,
      host,
      url: server.url,
      port: server.port,
      logger: host.logger,
      stop: () => host.stop(),
    };
  } catch (error) {
    await host.stop();
    throw error;
  }
}

if (require.main === module) runMain(services.brain.name, () => start());
