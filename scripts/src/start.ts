/**
 * `npm start`: the whole system on this machine. Checks the configuration, makes sure
 * PostgreSQL and RabbitMQ answer, creates and migrates the databases, starts the provider
 * sandboxes (when no real keys are set), the three services (REPLICAS instances of each) and
 * the nginx gateway, waits until
 * each is ready, prints the one URL of the system, and stops everything on Ctrl-C.
 */
import { ConfigError } from '@meetmatt/infra';
import { type ManagedProcess, stopAll } from './lib/processes';
import { prepareSystem } from './lib/prepare';
import { type RunningSystem, launchSystem } from './lib/system';
import { loadSystemConfig, serviceKeys, validateServiceConfigs } from './lib/system-config';

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  const system = loadSystemConfig();
  validateServiceConfigs(system);
  if (process.env.PORT && !process.env.GATEWAY_PORT) {
    log(
      `PORT=${process.env.PORT} is not the gateway's port (it is a single service's): set GATEWAY_PORT; the gateway listens on ${system.GATEWAY_PORT}`,
    );
  }
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
    // A process that dies takes the rest down with it, unless it is one of several instances of
    // a service and another still serves (REPLICAS > 1: nginx sends its requests to the others,
    // and a survivor takes over whatever it led).
    const watch = (system: RunningSystem) =>
      processes.forEach((p) =>
        p.exited.then((code) => {
          if (stopping) return;
          const siblings = serviceKeys
            .map((key) => system.instances[key].map((i) => i.process))
            .find((list) => list.includes(p));
          const alive = (siblings ?? []).filter(
            (s) => s.child.exitCode === null && s.child.signalCode === null,
          );
          const how = code ?? p.child.signalCode;
          if (alive.length > 0) {
            log(`${p.name} exited (${how}); ${alive.map((s) => s.name).join(', ')} still serving`);
            return;
          }
          log(`${p.name} exited (${how}); stopping the rest`);
          void shutdown(1);
        }),
      );
    running = await launching;
    watch(running);
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
    for (const instance of running.instances[key]) {
      log(`  ${instance.name.padEnd(16)} ${instance.url}  (openapi.json, readyz, metrics)`);
    }
  }
  if (system.REPLICAS > 1) {
    log(
      `  (${system.REPLICAS} instances of each service behind the gateway; the first of each leads the relay, projections, reconciler and build tracker until it stops)`,
    );
  }
  if (running.sandboxes.nowpayments)
    log(`  nowpayments sbx  ${running.sandboxes.nowpayments}  (no NOWPAYMENTS_API_KEY set)`);
  if (running.sandboxes.devin)
    log(`  devin sandbox    ${running.sandboxes.devin}  (no DEVIN_API_KEY set)`);
  if (running.mail)
    log(
      `  mail (smtp)      ${running.mail.smtpUrl}  (no SMTP_URL set): read what it received at ${running.mail.httpUrl}, kept in ${running.mail.dir}`,
    );
  log('');
  log('Try `npm run demo` for the whole journey. Press Ctrl-C to stop.');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) log(error.message);
  else log(`npm start failed: ${(error as Error).message}`);
  process.exit(1);
});
