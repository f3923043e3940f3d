import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import amqp from 'amqplib';
import pg from 'pg';
import { pollUntil, redactUrl, withDatabase } from '@meetmatt/infra';

const LOCAL = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

async function postgresAnswers(url: string): Promise<string | undefined> {
  const client = new pg.Client({
    connectionString: withDatabase(url, 'postgres'),
    connectionTimeoutMillis: 2_000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function rabbitAnswers(url: string): Promise<string | undefined> {
  try {
    const connection = await amqp.connect(url, { timeout: 2_000 });
    await connection.close();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

function startLocalPostgres(): boolean {
  if (!onPath('pg_ctlcluster') || !existsSync('/etc/postgresql')) return false;
  const versions = readdirSync('/etc/postgresql');
  for (const version of versions) {
    spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
      stdio: 'ignore',
    });
  }
  return versions.length > 0;
}

function startLocalRabbit(): boolean {
  if (!onPath('rabbitmq-server')) return false;
  spawnSync('rabbitmq-server', ['-detached'], { stdio: 'ignore' });
  return true;
}

/** Asks `check` until it finds no problem or time runs out; the last problem, if any. */
async function waitFor(
  check: () => Promise<string | undefined>,
  timeoutMs: number,
): Promise<string | undefined> {
  let problem: string | undefined;
  await pollUntil(async () => (problem = await check()) === undefined, {
    timeoutMs,
    intervalMs: 500,
  });
  return problem;
}

const HOW_TO_GET_THEM = [
  'PostgreSQL 15 and RabbitMQ 3.10+ are needed. Either:',
  '  - on a machine with Docker: docker compose up -d postgres rabbitmq',
  '  - on Debian/Ubuntu: apt-get install postgresql rabbitmq-server',
  'then point POSTGRES_URL and RABBITMQ_URL at them (see .env.example).',
].join('\n');

/**
 * Makes sure PostgreSQL and RabbitMQ answer. Local servers that are installed but stopped are
 * started; anything else ends in one clear message on how to get them.
 */
export async function ensureDependencies(
  postgresUrl: string,
  rabbitmqUrl: string,
  log: (line: string) => void,
): Promise<void> {
  const problems: string[] = [];
  let pgError = await postgresAnswers(postgresUrl);
  if (pgError && LOCAL.has(new URL(postgresUrl).hostname) && startLocalPostgres()) {
    log('PostgreSQL was not answering; started the local cluster');
    pgError = await waitFor(() => postgresAnswers(postgresUrl), 20_000);
  }
  if (pgError) problems.push(`PostgreSQL at ${redactUrl(postgresUrl)} does not answer: ${pgError}`);

  let mqError = await rabbitAnswers(rabbitmqUrl);
  if (mqError && LOCAL.has(new URL(rabbitmqUrl).hostname) && startLocalRabbit()) {
    log('RabbitMQ was not answering; started the local server');
    mqError = await waitFor(() => rabbitAnswers(rabbitmqUrl), 40_000);
  }
  if (mqError) problems.push(`RabbitMQ at ${redactUrl(rabbitmqUrl)} does not answer: ${mqError}`);

  if (problems.length) throw new Error(`${problems.join('\n')}\n${HOW_TO_GET_THEM}`);
}

/** Whether a binary can be run, for optional pieces such as nginx. */
export function hasBinary(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
