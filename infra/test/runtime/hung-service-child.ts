/**
 * A service in a process of its own, for the shutdown test: the real ServiceHost and runMain,
 * one endpoint that runs a statement on the request pool. Run with tsx; DATABASE_URL (the
 * test points it through a proxy it can freeze), RABBITMQ_URL and SHUTDOWN_TIMEOUT_MS say how.
 */
import { z } from 'zod';
import { defineEndpoint } from '@meetmatt/contracts';
import {
  ServiceHost,
  baseServiceConfig,
  createHttpApp,
  env,
  loadConfig,
  runMain,
} from '@meetmatt/infra';

const query = defineEndpoint({
  operationId: 'query',
  method: 'post',
  path: '/query',
  summary: 'runs one statement on the request pool',
  tags: ['test'],
  auth: 'none',
  body: z.object({ sql: z.string() }),
  responses: {},
});

runMain('hung-child', async () => {
  const config = loadConfig(
    z.object({ ...baseServiceConfig, PORT: env.port(0), DATABASE_URL: env.url() }),
  );
  const host = await ServiceHost.create({ name: 'hung-child', config, migrations: {} });
  const app = createHttpApp({
    service: 'hung-child',
    logger: host.logger,
    metrics: host.metrics,
    readiness: host.readiness,
    ...host.http,
    routes: (routes) => {
      routes.add(query, async ({ body }) => {
        const { rows } = await host.database.pool.query(body.sql);
        return { status: 200, body: rows };
      });
    },
  });
  const server = await host.listen(app, 0);
  return {
    url: server.url,
    port: server.port,
    logger: host.logger,
    stop: () => host.stop(),
  };
});
