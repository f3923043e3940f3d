/**
 * `npm run chaos`: the fault suite. Runs the whole system as `npm start` does (on ports,
 * databases and a RabbitMQ vhost of its own) under a supervisor that starts killed processes
 * again, drives CHAOS_JOURNEYS customer journeys of mixed NOWPayments scenarios through the
 * gateway, and every CHAOS_FAULT_INTERVAL_MS injects a fault: a service SIGKILLed, the services'
 * PostgreSQL connections terminated, PostgreSQL restarted, RabbitMQ stopped and started. Then it
 * waits for the system to settle, checks the event stores, the Devin sandbox and the broker,
 * prints the figures, and exits non-zero listing every problem it found.
 */
import { ConfigError } from '@meetmatt/infra';
import { loadChaosConfig } from './chaos/config';
import { formatReport } from './chaos/report';
import { runChaos } from './chaos/run';

async function main(): Promise<void> {
  const config = loadChaosConfig();
  // The first Ctrl-C (or SIGTERM) ends the run and still stops and cleans up; the second quits.
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (controller.signal.aborted) process.exit(130);
      process.stderr.write(`\n${signal}: stopping the run and cleaning up...\n`);
      controller.abort();
    });
  }
  const report = await runChaos(config, process.env, controller.signal);
  for (const line of formatReport(report)) process.stdout.write(`${line}\n`);
  process.exit(report.problems.length ? 1 : 0);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) process.stdout.write(`${error.message}\n`);
  else process.stdout.write(`npm run chaos failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
