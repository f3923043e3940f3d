import { userOpenApi, services } from '@meetmatt/contracts';
import {
  type Logger,
  type RunningService,
  ServiceHost,
  createHttpApp,
  runMain,
} from '@meetmatt/infra';
import { migrations } from '../migrations';
import { type UserConfig, loadUserConfig } from './config';

export interface StartUserOptions {
  /** Settings over the environment (tests pass PORT: 0 and their own database). */
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

export interface RunningUserService extends RunningService {
  config: UserConfig;
  host: ServiceHost;
}

/** The composition root: the only place where the user service's pieces are wired together. */
export async function start(options: StartUserOptions = {}): Promise<RunningUserService> {
  const config = loadUserConfig({ ...process.env, ...options.env });
  const host = await ServiceHost.create({
    name: services.user.name,
    config,
    migrations,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    const app = createHttpApp({
      service: services.user.name,
      logger: host.logger,
      metrics: host.metrics,
      readiness: host.readiness,
      openapi: userOpenApi(),
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

if (require.main === module) runMain(services.user.name, () => start());
