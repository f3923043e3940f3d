import { paymentOpenApi, services } from '@meetmatt/contracts';
import {
  type Logger,
  type RunningService,
  ServiceHost,
  createHttpApp,
  runMain,
} from '@meetmatt/infra';
import { migrations } from '../migrations';
import { type PaymentConfig, loadPaymentConfig } from './config';

export interface StartPaymentOptions {
  /** Settings over the environment (tests pass PORT: 0 and their own database). */
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

export interface RunningPaymentService extends RunningService {
  config: PaymentConfig;
  host: ServiceHost;
}

/** The composition root: the only place where the payment service's pieces are wired together. */
export async function start(options: StartPaymentOptions = {}): Promise<RunningPaymentService> {
  const config = loadPaymentConfig({ ...process.env, ...options.env });
  const host = await ServiceHost.create({
    name: services.payment.name,
    config,
    migrations,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    const app = createHttpApp({
      service: services.payment.name,
      logger: host.logger,
      metrics: host.metrics,
      readiness: host.readiness,
      openapi: paymentOpenApi(),
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

if (require.main === module) runMain(services.payment.name, () => start());
