/**
 * The whole system as `npm start` runs it (sandboxes, three services, nginx), on free ports, its
 * own three databases and RabbitMQ vhost, each process's output in one log file and its bus hop
 * times in a file of its own (BUS_HOP_TRACE_FILE). `stop()` ends the processes and drops it all.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { dropDatabase, withDatabase } from '@meetmatt/infra';
import { createTestVhost, randomSuffix, testServers } from '@meetmatt/infra/testing';
import { prepareSystem } from '../../lib/prepare';
import { type ManagedProcess, repoRoot, stopAll } from '../../lib/processes';
import { type RunningSystem, launchSystem } from '../../lib/system';
import { loadSystemConfig, validateServiceConfigs } from '../../lib/system-config';

export interface FlowSystem {
  running: RunningSystem;
  databases: { user: string; payment: string; brain: string };
  /** The hop-trace file of a process (by its name: payment-service, brain-service...). */
  traceFile(process: string): string;
  logFile: string;
  /** The IPN secret the NOWPayments sandbox signs with (what npm start gives it). */
  ipnSecret: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startFlowSystem(): Promise<FlowSystem> {
  const suffix = randomSuffix();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mm-flow-'));
  const logFile = path.join(dir, 'system.log');
  const log = createWriteStream(logFile);
  const traceFile = (name: string) => path.join(dir, `${name}.hops.jsonl`);
  const databases = {
    user: withDatabase(testServers.postgresUrl, `mm_flow_user_${suffix}`),
    payment: withDatabase(testServers.postgresUrl, `mm_flow_payment_${suffix}`),
    brain: withDatabase(testServers.postgresUrl, `mm_flow_brain_${suffix}`),
  };
  const vhost = await createTestVhost('flow');
  const processes: ManagedProcess[] = [];
  const gatewayPort = await freePort();
  const stop = async () => {
    await stopAll(processes, 10_000);
    rmSync(path.join(repoRoot, '.run', `gateway-${gatewayPort}`), { recursive: true, force: true });
    await Promise.all(
      Object.values(databases).map((url) => dropDatabase(url).catch(() => undefined)),
    );
    await vhost.drop().catch(() => undefined);
    await new Promise((resolve) => log.end(resolve));
    if (!process.env.BENCH_KEEP_LOGS) rmSync(dir, { recursive: true, force: true });
  };
  const startTs = (name: string, entry: string, env: Record<string, string>): ManagedProcess => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, entry)], {
      cwd: repoRoot,
      env: { ...env, BUS_HOP_TRACE_FILE: traceFile(name) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr])
      createInterface({ input: stream }).on('line', (text) =>
        log.write(`${name.padEnd(17)}| ${text}\n`),
      );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { name, child, exited };
  };
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GATEWAY_PORT: String(gatewayPort),
      USER_SERVICE_PORT: String(await freePort()),
      PAYMENT_SERVICE_PORT: String(await freePort()),
      BRAIN_SERVICE_PORT: String(await freePort()),
      NOWPAYMENTS_SANDBOX_PORT: String(await freePort()),
      DEVIN_SANDBOX_PORT: String(await freePort()),
      USER_DATABASE_URL: databases.user,
      PAYMENT_DATABASE_URL: databases.payment,
      BRAIN_DATABASE_URL: databases.brain,
      RABBITMQ_URL: vhost.url,
      // The run's own vhost: the services' own broker users are server-wide names.
      SERVICE_ACCOUNTS: 'shared',
      // One bench client stands for many customers: the per-client limits would refuse it.
      GATEWAY_AUTH_RATE: '10000r/s',
      GATEWAY_USER_RATE: '10000r/s',
      GATEWAY_ADDRESS_RATE: '10000r/s',
      GATEWAY_WEBHOOK_RATE: '10000r/s',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      LOG_FORMAT: 'json',
    };
    for (const name of [
      'NOWPAYMENTS_API_KEY',
      'NOWPAYMENTS_API_URL',
      'DEVIN_API_KEY',
      'DEVIN_API_URL',
      'PORT',
      'DATABASE_URL',
    ])
      delete env[name];
    const system = loadSystemConfig(env);
    validateServiceConfigs(system, env);
    await prepareSystem(system, () => undefined);
    const running = await launchSystem(system, () => undefined, processes, env, {
      startTs,
      echoAccessLog: false,
    });
    return { running, databases, traceFile, logFile, ipnSecret: 'sandbox-ipn-secret', stop };
  } catch (error) {
    process.env.BENCH_KEEP_LOGS = '1';
    await stop();
    throw new Error(`the system did not start: ${(error as Error).message} (log: ${logFile})`);
  }
}
