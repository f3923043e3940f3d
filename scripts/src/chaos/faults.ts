import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import pg from 'pg';
import { pollUntil, withDatabase, sleep } from '@meetmatt/infra';
import { type FaultKind } from './config';
import { type Supervisor } from './supervisor';

const run = promisify(execFile);

export interface FaultContext {
  supervisor: Supervisor;
  /** The processes a kill fault picks from (the services, not the sandboxes). */
  services: string[];
  postgresUrl: string;
  /** The run's own databases: a connection fault terminates only their sessions. */
  databases: string[];
  rabbitmqUrl: string;
  brokerDownMs: number;
  pgCluster?: string | undefined;
}

export interface FaultDone {
  kind: FaultKind;
  detail: string;
  startedAt: number;
  /** When the fault was over: the process killed, the server answering again. */
  endedAt: number;
  /** From the end of the fault until every service answered /readyz 200; null: not within the wait. */
  readyAfterMs?: number | null;
}

/**
 * The order faults come in: each round is every enabled kind once, shuffled, so a short run
 * still meets every kind and a long one meets them equally often.
 */
export function faultSequence(kinds: FaultKind[]): () => FaultKind {
  let round: FaultKind[] = [];
  return () => {
    if (round.length === 0) {
      round = [...kinds];
      for (let i = round.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [round[i], round[j]] = [round[j]!, round[i]!];
      }
    }
    return round.shift()!;
  };
}

export async function injectFault(kind: FaultKind, context: FaultContext): Promise<FaultDone> {
  const startedAt = Date.now();
  const detail = await inject(kind, context);
  return { kind, detail, startedAt, endedAt: Date.now() };
}

let lastVictim: string | undefined;

async function inject(kind: FaultKind, context: FaultContext): Promise<string> {
  switch (kind) {
    case 'kill': {
      // Not the last victim again: one service killed in a row only measures its boot time.
      const running = context.services.filter(
        (s) => context.supervisor.isRunning(s) && s !== lastVictim,
      );
      const victim = running[Math.floor(Math.random() * running.length)];
      if (!victim) return 'no service running to kill';
      lastVictim = victim;
      context.supervisor.kill(victim);
      return `SIGKILL ${victim}`;
    }
    case 'pg-terminate':
      return `terminated ${await terminateConnections(context.postgresUrl, context.databases)} connections`;
    case 'pg-restart': {
      const cluster = context.pgCluster ?? localCluster();
      await run('pg_ctlcluster', ['--skip-systemctl-redirect', ...cluster.split(' '), 'restart'], {
        timeout: 60_000,
      });
      await waitFor('PostgreSQL', () => postgresAnswers(context.postgresUrl), 60_000);
      return `restarted PostgreSQL ${cluster}`;
    }
    case 'rabbit-restart': {
      await run('rabbitmqctl', ['stop_app'], { timeout: 60_000 });
      await sleep(context.brokerDownMs);
      await run('rabbitmqctl', ['start_app'], { timeout: 60_000 });
      await waitFor('RabbitMQ', () => rabbitAnswers(context.rabbitmqUrl), 60_000);
      return `RabbitMQ stopped for ${context.brokerDownMs} ms`;
    }
  }
}

/** Every session on the run's databases but our own, as a failover or a pooler restart would. */
export async function terminateConnections(postgresUrl: string, databases: string[]) {
  const client = new pg.Client({
    connectionString: withDatabase(postgresUrl, 'postgres'),
    connectionTimeoutMillis: 5_000,
  });
  await client.connect();
  try {
    const result = await client.query(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
         FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()`,
      [databases],
    );
    return (result.rows[0] as { n: number }).n;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** "15 main" from /etc/postgresql, when exactly one version is installed. */
function localCluster(): string {
  const versions = readdirSync('/etc/postgresql');
  if (versions.length !== 1) {
    throw new Error(`set CHAOS_PG_CLUSTER (e.g. "15 main"): found ${versions.join(', ')}`);
  }
  return `${versions[0]} main`;
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({
    connectionString: withDatabase(url, 'postgres'),
    connectionTimeoutMillis: 2_000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function rabbitAnswers(url: string): Promise<boolean> {
  try {
    const connection = await amqp.connect(url, { timeout: 2_000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const polled = await pollUntil(check, { timeoutMs, intervalMs: 250 });
  if (!polled.passed) throw new Error(`${what} did not answer within ${timeoutMs / 1000} s`);
}
