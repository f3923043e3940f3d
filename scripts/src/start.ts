/**
 * `npm start`: the whole system on this machine. Checks the configuration, makes sure
 * PostgreSQL and RabbitMQ answer, creates and migrates the databases, starts the provider
 * sandboxes (when no real keys are set), the three services and the nginx gateway, waits until
 * each is ready, prints the one URL of the system, and stops everything on Ctrl-C.
 */
import { ConfigError } from '@meetmatt/infra';
import { services } from '@meetmatt/contracts';
import { type ManagedProcess, stopAll } from './lib/processes';
import { prepareSystem } from './lib/prepare';
import { launchSystem } from './lib/system';
import { loadSystemConfig, serviceKeys, validateServiceConfigs } from './lib/system-config';

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  const system = loadSystemConfig();
  validateServiceConfigs(system);
  await prepareSystem(system, log);

  const processes: ManagedProcess[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log('\nstopping...');
    await stopAll(processes);
    log('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  let running;
  try {
    const launching = launchSystem(system, log, processes);
    // A process that dies before or after readiness takes the rest down with it.
    const watch = () =>
      processes.forEach((p) =>
        p.exited.then((code) => {
          if (!stopping) {
            log(`${p.name} exited (code ${code}); stopping the rest`);
            void shutdown(1);
          }
        }),
      );
    running = await launching;
    watch();
  } catch (error) {
    log(`${(error as Error).message}`);
    await shutdown(1);
    return;
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log('');
  log(`Meet Matt backend is ready (${seconds} s): ${running.gatewayUrl}`);
  log('');
  log(`  gateway          ${running.gatewayUrl}  (the one URL the web app and NOWPayments use)`);
  for (const key of serviceKeys) {
    log(
      `  ${services[key].name.padEnd(16)} ${running.serviceUrls[key]}  (openapi.json, readyz, metrics)`,
    );
  }
  if (running.sandboxes.nowpayments)
    log(`  nowpayments sbx  ${running.sandboxes.nowpayments}  (no NOWPAYMENTS_API_KEY set)`);
  if (running.sandboxes.devin)
    log(`  devin sandbox    ${running.sandboxes.devin}  (no DEVIN_API_KEY set)`);
  log('');
  log('Try `npm run demo` for the whole journey. Press Ctrl-C to stop.');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) log(error.message);
  else log(`npm start failed: ${(error as Error).message}`);
  process.exit(1);
});
