/**
 * `npm start`: the whole system on this machine. Checks the configuration, makes sure
 * PostgreSQL and RabbitMQ answer, creates and migrates the databases, starts the services,
 * waits until each is ready, prints the URLs, and stops everything on Ctrl-C.
 */
import { ConfigError } from '@meetmatt/infra';
import { services } from '@meetmatt/contracts';
import { type ManagedProcess, startTsProcess, stopAll, waitUntilReady } from './lib/processes';
import { prepareSystem } from './lib/prepare';
import {
  loadSystemConfig,
  serviceEnv,
  serviceKeys,
  servicePort,
  validateServiceConfigs,
} from './lib/system-config';

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  const system = loadSystemConfig();
  validateServiceConfigs(system);
  await prepareSystem(system, log);

  const running: ManagedProcess[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log('\nstopping...');
    await stopAll(running);
    log('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  serviceKeys.forEach((key, index) => {
    const name = services[key].name;
    const child = startTsProcess(name, `${name}/src/main.ts`, serviceEnv(system, key), index);
    running.push(child);
    void child.exited.then((code) => {
      if (!stopping) {
        log(`${name} exited (code ${code}); stopping the rest`);
        void shutdown(1);
      }
    });
  });

  try {
    await Promise.all(
      serviceKeys.map((key, index) =>
        waitUntilReady(
          `http://127.0.0.1:${servicePort(system, key)}/readyz`,
          running[index]!,
          60_000,
        ),
      ),
    );
  } catch (error) {
    log(`${(error as Error).message}`);
    await shutdown(1);
    return;
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log('');
  log(`Meet Matt backend is ready (${seconds} s):`);
  for (const key of serviceKeys) {
    log(
      `  ${services[key].name.padEnd(16)} http://127.0.0.1:${servicePort(system, key)}  (openapi.json, readyz, metrics)`,
    );
  }
  log('Press Ctrl-C to stop.');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) log(error.message);
  else log(`npm start failed: ${(error as Error).message}`);
  process.exit(1);
});
