import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { services } from '@meetmatt/contracts';
import { dropDatabase, pollUntil, sleep, withDatabase } from '@meetmatt/infra';
import { prepareSystem } from '../lib/prepare';
import { type ManagedProcess, repoRoot, stopAll } from '../lib/processes';
import { type RunningSystem, launchSystem } from '../lib/system';
import {
  loadSystemConfig,
  serviceDatabaseUrl,
  serviceKeys,
  servicePort,
  validateServiceConfigs,
} from '../lib/system-config';
import { type CheckTargets, journeyProblems, systemProblems, webhookProblems } from './checks';
import { type CallFigures, newCallFigures } from './client';
import { type ChaosConfig, type FaultKind } from './config';
import { type FaultContext, type FaultDone, faultSequence, injectFault } from './faults';
import { type JourneyRecord, runChaosJourney, scenarioOf } from './journeys';
import { divertProcessOutput } from './output';
import { Supervisor } from './supervisor';

const run = promisify(execFile);

export interface ChaosReport {
  journeys: JourneyRecord[];
  faults: FaultDone[];
  restarts: Map<string, number>;
  /** From the end of the last fault to the first moment every check passed; null: never. */
  settleMs: number | null;
  calls: CallFigures;
  problems: string[];
  durationMs: number;
  logFile: string;
}

/**
 * The settings the services run with during a chaos run, unless set: sandboxes and trackers at a
 * test's pace, the reconciler quick enough to catch a lost IPN within seconds, passwords cheap
 * to hash (two cores hash every journey's twice), limits that let the journeys through, and
 * warnings only in the log.
 */
const RUN_DEFAULTS: Record<string, string> = {
  NOWPAYMENTS_SANDBOX_STEP_MS: '250',
  DEVIN_SANDBOX_STEP_MS: '250',
  RECONCILER_INTERVAL_MS: '1000',
  RECONCILER_MIN_AGE_MS: '4000',
  DEVIN_POLL_INTERVAL_MS: '500',
  DEVIN_POLL_MAX_INTERVAL_MS: '2000',
  BUILD_SCAN_INTERVAL_MS: '1000',
  PASSWORD_SCRYPT_LOG_N: '12',
  GATEWAY_AUTH_RATE: '500r/s',
  GATEWAY_USER_RATE: '500r/s',
  GATEWAY_ADDRESS_RATE: '500r/s',
  // user-service's own sign-up/sign-in limits per address (every journey comes from 127.0.0.1).
  REGISTER_LIMIT_PER_ADDRESS: '100000',
  LOGIN_LIMIT_PER_ADDRESS: '100000',
  LOG_LEVEL: 'warn',
  // The services' own accounts are server-wide names whose passwords a test (or another
  // checkout) may reset under a running system, locking it out at its next reconnect; the fault
  // suite is about faults, so it connects as the RABBITMQ_URL / POSTGRES_URL user.
  SERVICE_ACCOUNTS: 'shared',
};

/** When every service answered /readyz 200, or null at the deadline. */
function allReady(urls: Record<string, string>, timeoutMs: number): Promise<number | null> {
  return allAnswer(
    Object.values(urls).map((url) => `${url}/readyz`),
    timeoutMs,
  );
}

/** When every probe answered 200, or null at the deadline. */
async function allAnswer(probes: string[], timeoutMs: number): Promise<number | null> {
  const ok = async (url: string) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    return res?.status === 200;
  };
  const polled = await pollUntil(
    async () => (await Promise.all(probes.map(ok))).every(Boolean) && Date.now(),
    { timeoutMs, intervalMs: 250 },
  );
  return polled.passed ? polled.value : null;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A RabbitMQ virtual host of the run's own, so its queues meet no one else's. */
async function createVhost(rabbitmqUrl: string, name: string) {
  const base = new URL(rabbitmqUrl);
  const user = decodeURIComponent(base.username || 'guest');
  await run('rabbitmqctl', ['add_vhost', name], { timeout: 60_000 });
  await run('rabbitmqctl', ['set_permissions', '-p', name, user, '.*', '.*', '.*'], {
    timeout: 60_000,
  });
  base.pathname = `/${encodeURIComponent(name)}`;
  return base.toString();
}

/**
 * Runs the whole system as `npm start` does, on ports, databases and a vhost of its own, under
 * a supervisor; drives journeys through the gateway while injecting faults; waits for the
 * system to settle; checks it; stops and cleans up. Never throws for what it finds: every
 * finding is in `problems`.
 */
export async function runChaos(
  config: ChaosConfig,
  source: NodeJS.ProcessEnv = process.env,
  signal: AbortSignal = new AbortController().signal,
): Promise<ChaosReport> {
  const interrupted = new Promise<void>((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  const started = Date.now();
  const id = `${new Date(started).toISOString().replace(/[-:]/g, '').slice(0, 15)}_${process.pid}`;
  const runDir = path.join(repoRoot, '.run', `chaos-${id}`);
  mkdirSync(runDir, { recursive: true });
  const logFile = path.join(runDir, 'run.log');
  const output = divertProcessOutput(logFile);
  const say = output.say;
  const problems: string[] = [];
  const journeys: JourneyRecord[] = [];
  const faults: FaultDone[] = [];
  const calls = newCallFigures();
  const supervisor = new Supervisor({
    log: (line) => say(line),
  });
  const processes: ManagedProcess[] = [];
  let vhostName: string | undefined;
  const databases: string[] = [];
  let settleMs: number | null = null;
  let gatewayDir: string | undefined;

  const postgresUrl = source.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const rabbitmqUrl = source.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  try {
    vhostName = `meetmatt_chaos_${id}`;
    const vhostUrl = await createVhost(rabbitmqUrl, vhostName);
    const ports = {
      GATEWAY_PORT: await freePort(),
      PAYMENT_SERVICE_PORT: await freePort(),
      USER_SERVICE_PORT: await freePort(),
      BRAIN_SERVICE_PORT: await freePort(),
      NOWPAYMENTS_SANDBOX_PORT: await freePort(),
      DEVIN_SANDBOX_PORT: await freePort(),
    };
    const env: NodeJS.ProcessEnv = { ...RUN_DEFAULTS, ...source };
    for (const [name, port] of Object.entries(ports)) env[name] = String(port);
    for (const key of serviceKeys) {
      const name = `meetmatt_chaos_${id}_${key}`.toLowerCase();
      env[`${key.toUpperCase()}_DATABASE_URL`] = withDatabase(postgresUrl, name);
      databases.push(name);
    }
    env.RABBITMQ_URL = vhostUrl;
    // The real providers are never called by a chaos run.
    for (const name of [
      'NOWPAYMENTS_API_KEY',
      'NOWPAYMENTS_API_URL',
      'DEVIN_API_KEY',
      'DEVIN_API_URL',
    ]) {
      delete env[name];
    }
    const system = loadSystemConfig(env);
    gatewayDir = path.join(repoRoot, '.run', `gateway-${system.GATEWAY_PORT}`);
    validateServiceConfigs(system, env);
    say(
      `chaos run ${id}: ${config.CHAOS_JOURNEYS} journeys, ${config.CHAOS_CONCURRENCY} at a time, faults (${config.CHAOS_FAULTS.join(', ')}) every ${config.CHAOS_FAULT_INTERVAL_MS} ms${config.CHAOS_FAULT_COUNT ? `, ${config.CHAOS_FAULT_COUNT} in all` : ''}`,
    );
    say(`process output: ${logFile}`);
    // Other runs preparing their own roles at the same moment can collide in PostgreSQL's
    // catalogue ("tuple concurrently updated"): preparing is idempotent, so try again.
    for (let attempt = 1; ; attempt++) {
      try {
        await prepareSystem(system, say);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        say(`preparing failed (${(error as Error).message}); trying again`);
        await sleep(1_000 * attempt);
      }
    }
    let running: RunningSystem;
    try {
      running = await launchSystem(system, say, processes, env, {
        startTs: supervisor.startTs,
        echoAccessLog: false,
      });
    } catch (error) {
      // launchSystem gives each process a minute; on a busy machine booting all of them at once
      // can take longer. They are all started: give them more time before calling it a failure.
      if (!/not ready after/.test((error as Error).message)) throw error;
      say(`${(error as Error).message}; waiting longer on this busy machine`);
      const local = (port: number) => `http://127.0.0.1:${port}`;
      running = {
        processes,
        gatewayUrl: local(system.GATEWAY_PORT),
        serviceUrls: {
          user: local(servicePort(system, 'user')),
          payment: local(servicePort(system, 'payment')),
          brain: local(servicePort(system, 'brain')),
        },
        instances: { user: [], payment: [], brain: [] },
        sandboxes: {
          nowpayments: local(system.NOWPAYMENTS_SANDBOX_PORT),
          devin: local(system.DEVIN_SANDBOX_PORT),
        },
      };
      const probes = [
        ...Object.values(running.serviceUrls).map((url) => `${url}/readyz`),
        `${running.gatewayUrl}/healthz`,
        `${running.sandboxes.nowpayments}/healthz`,
        `${running.sandboxes.devin}/healthz`,
      ];
      if ((await allAnswer(probes, 120_000)) === null) throw error;
    }
    say(`system ready at ${running.gatewayUrl} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

    const serviceNames = serviceKeys.map((k) => services[k].name);
    const targets: CheckTargets = {
      gatewayUrl: running.gatewayUrl,
      serviceUrls: Object.fromEntries(
        serviceKeys.map((k) => [services[k].name, running.serviceUrls[k]]),
      ),
      paymentDatabaseUrl: serviceDatabaseUrl(system, 'payment'),
      brainDatabaseUrl: serviceDatabaseUrl(system, 'brain'),
      devinSandboxUrl: running.sandboxes.devin!,
      vhost: vhostName,
    };
    const faultContext: FaultContext = {
      supervisor,
      services: serviceNames,
      postgresUrl,
      databases,
      rabbitmqUrl: vhostUrl,
      brokerDownMs: config.CHAOS_BROKER_DOWN_MS,
      pgCluster: config.CHAOS_PG_CLUSTER,
    };

    const drive = driveJourneys(
      config,
      running.gatewayUrl,
      journeys,
      calls,
      signal,
      () => faults.length,
    );
    let journeysDone = false;
    const journeysEnded = drive.then(() => (journeysDone = true));
    const progress = setInterval(() => {
      const done = journeys.filter((j) => j.endedAt).length;
      say(
        `… ${done}/${config.CHAOS_JOURNEYS} journeys done, ${faults.length} faults, ${supervisor.totalRestarts()} restarts`,
      );
    }, 10_000);
    const faultLoop = (async () => {
      const next = faultSequence(config.CHAOS_FAULTS);
      for (;;) {
        await pollUntil(() => journeysDone && !config.CHAOS_FAULT_COUNT, {
          timeoutMs: config.CHAOS_FAULT_INTERVAL_MS,
          intervalMs: 100,
        });
        if (signal.aborted) return;
        const enough = config.CHAOS_FAULT_COUNT
          ? faults.length >= config.CHAOS_FAULT_COUNT
          : journeysDone;
        if (enough) return;
        const kind: FaultKind = next();
        try {
          const fault = await injectFault(kind, faultContext);
          // The next interval starts once the system serves again: faults piling onto services
          // still booting from the last one would only measure boot times.
          const recovered = await allReady(targets.serviceUrls, 90_000);
          fault.readyAfterMs = recovered === null ? null : recovered - fault.endedAt;
          faults.push(fault);
          say(
            `fault ${faults.length}: ${fault.detail} (${fault.endedAt - fault.startedAt} ms); ${recovered === null ? 'services not all ready after 90 s' : `services ready ${((recovered - fault.endedAt) / 1000).toFixed(1)} s later`}`,
          );
        } catch (error) {
          const now = Date.now();
          faults.push({
            kind,
            detail: `failed: ${(error as Error).message}`,
            startedAt: now,
            endedAt: now,
          });
          problems.push(`fault ${kind} could not be injected: ${(error as Error).message}`);
          say(
            `fault ${faults.length} (${kind}) could not be injected: ${(error as Error).message}`,
          );
        }
      }
    })();
    await Promise.race([Promise.all([journeysEnded, faultLoop]), interrupted]);
    clearInterval(progress);
    if (signal.aborted) throw new Error('interrupted');
    const lastFaultEnd = faults.at(-1)?.endedAt ?? Date.now();
    say(
      `journeys and faults over: ${journeys.filter((j) => !j.error).length}/${journeys.length} journeys saw their payment end; ${faults.length} faults; waiting for the system to settle`,
    );

    let remaining: string[] = [];
    const settled = await pollUntil(
      async () => {
        remaining = await systemProblems(journeys, targets);
        for (const name of serviceNames) {
          if (!supervisor.isRunning(name)) remaining.push(`${name} is not running`);
        }
        return remaining.length === 0;
      },
      { timeoutMs: config.CHAOS_SETTLE_TIMEOUT_MS, intervalMs: 1_000, signal },
    );
    if (settled.passed) {
      settleMs = Date.now() - lastFaultEnd;
      say(`settled ${(settleMs / 1000).toFixed(1)} s after the last fault`);
    } else {
      say(`not settled within ${config.CHAOS_SETTLE_TIMEOUT_MS / 1000} s`);
    }
    problems.push(...journeyProblems(journeys), ...remaining);
    problems.push(
      ...(await webhookProblems(running.sandboxes.nowpayments!).catch((e: Error) => [
        `IPN deliveries could not be checked: ${e.message}`,
      ])),
    );
    if (settleMs !== null && settleMs > config.CHAOS_SETTLE_TARGET_MS) {
      problems.push(
        `settled ${(settleMs / 1000).toFixed(1)} s after the last fault: over the ${config.CHAOS_SETTLE_TARGET_MS / 1000} s target`,
      );
    }
    for (const error of calls.serverErrors) problems.push(`a journey was answered 500: ${error}`);
  } catch (error) {
    problems.push(
      signal.aborted
        ? 'the run was interrupted'
        : `the run broke off: ${(error as Error).stack ?? String(error)}`,
    );
  } finally {
    await sleep(300); // the last lines of a process that just died
    for (const exit of supervisor.unexpectedExits) {
      problems.push(
        `${exit.name} exited by itself (code ${exit.code}, signal ${exit.signal}); its last lines:\n    ${output.tail(exit.name).join('\n    ')}`,
      );
    }
    const stopped = await supervisor.stop(25_000);
    for (const s of stopped.filter((p) => p.forced)) {
      problems.push(`${s.name} did not exit within 25 s of SIGTERM (SIGKILLed)`);
    }
    await stopAll(processes, 5_000);
    if (gatewayDir && !config.CHAOS_KEEP) {
      // The gateway's access log tells which request got which answer: kept with a failed run.
      if (problems.length) {
        try {
          copyFileSync(
            path.join(gatewayDir, 'access.log'),
            path.join(runDir, 'gateway-access.log'),
          );
        } catch {
          // no gateway started, no log
        }
      }
      rmSync(gatewayDir, { recursive: true, force: true });
    }
    if (!config.CHAOS_KEEP) {
      for (const name of databases) {
        await dropDatabase(withDatabase(postgresUrl, name)).catch((e: Error) =>
          say(`could not drop database ${name}: ${e.message}`),
        );
      }
      if (vhostName) {
        await run('rabbitmqctl', ['delete_vhost', vhostName], { timeout: 60_000 }).catch(
          (e: Error) => say(`could not delete vhost ${vhostName}: ${e.message}`),
        );
      }
    } else say(`kept databases ${databases.join(', ')} and vhost ${vhostName}`);
    await output.restore();
    if (problems.length === 0 && !config.CHAOS_KEEP)
      rmSync(runDir, { recursive: true, force: true });
  }
  return {
    journeys,
    faults,
    restarts: supervisor.restarts,
    settleMs,
    calls,
    problems,
    durationMs: Date.now() - started,
    logFile,
  };
}

/**
 * Runs the journeys with bounded concurrency. With a fixed fault count, journey i starts once
 * i/N of the faults are done, so the faults meet journeys in flight rather than an idle system,
 * however long each fault takes to recover from on a busy machine.
 */
async function driveJourneys(
  config: ChaosConfig,
  baseUrl: string,
  journeys: JourneyRecord[],
  calls: CallFigures,
  signal: AbortSignal,
  faultsDone: () => number,
): Promise<void> {
  let nextIndex = 0;
  const worker = async () => {
    for (;;) {
      const index = nextIndex++;
      if (index >= config.CHAOS_JOURNEYS || signal.aborted) return;
      const faultsBefore = Math.floor((index * config.CHAOS_FAULT_COUNT) / config.CHAOS_JOURNEYS);
      await pollUntil(() => faultsDone() >= faultsBefore, {
        timeoutMs: Infinity,
        intervalMs: 100,
        signal,
      });
      const record: JourneyRecord = { index, scenario: scenarioOf(index), startedAt: Date.now() };
      journeys.push(record);
      try {
        await runChaosJourney(record, {
          baseUrl,
          callBudgetMs: config.CHAOS_CALL_BUDGET_MS,
          timeoutMs: config.CHAOS_JOURNEY_TIMEOUT_MS,
          figures: calls,
        });
      } catch (error) {
        record.error = (error as Error).message;
      }
      record.endedAt = Date.now();
    }
  };
  await Promise.all(Array.from({ length: config.CHAOS_CONCURRENCY }, worker));
}
