import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { comparePositions, parsePosition } from '@meetmatt/infra';
import {
  accountHistory,
  accountsProjection,
  foldAccounts,
  readAccounts,
} from '../support/projections/accounts';
import { type Harness, createHarness } from '../support/projections/harness';
import { eventually } from '@meetmatt/infra/testing';

const CHILD = path.join(__dirname, '..', 'support', 'projections', 'crash-child.ts');
const REPO = path.resolve(__dirname, '..', '..', '..');
const APP = 'projection-crash-child';

/** A runner in a real process of its own, its stdout read line by line. */
function startChild(url: string, batchSize: number, pauseMs: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, url, String(batchSize), String(pauseMs)],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'silent' },
    },
  );
  const lines: string[] = [];
  let stderr = '';
  child.stdout
    .setEncoding('utf8')
    .on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  return {
    child,
    exited,
    async line(expected: string): Promise<void> {
      await eventually(
        `the child printed "${expected}"`,
        () => {
          if (child.exitCode !== null) throw new Error(`child exited early: ${stderr}`);
          return lines.includes(expected);
        },
        20_000,
      );
    },
  };
}

async function kill(child: ChildProcess, exited: Promise<unknown>): Promise<unknown> {
  child.kill('SIGKILL');
  return exited;
}

describe('projection runner killed mid-batch', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('proj_crash');
  });
  afterAll(async () => {
    await h.close();
  });

  async function childSessions(state: string): Promise<number> {
    const { rows } = await h.database.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1
       AND ($2 = 'any' OR state = $2)`,
      [APP, state],
    );
    return rows.length;
  }

  test('when a runner process is killed with SIGKILL while a batch is open, then the read model equals a fold of the store up to its checkpoint, and a fold of all of it once another runner resumes', async () => {
    await h.appendMany(Array.from({ length: 60 }, () => accountHistory()));
    let previous = parsePosition('0:0');

    for (const killAt of [3, 2]) {
      const { child, exited, line } = startChild(h.testDb.url, 20, 250);
      await line(`mid-batch ${killAt}`);
      // The projection's batch transaction is open (the child waits inside it) as it dies.
      expect(await childSessions('idle in transaction')).toBe(1);
      expect(await kill(child, exited)).toBe('SIGKILL');
      await eventually(
        'the server noticed the child died',
        async () => (await childSessions('any')) === 0,
      );

      const checkpoint = parsePosition((await h.checkpoint('accounts'))!);
      expect(comparePositions(checkpoint, previous)).toBeGreaterThan(0);
      const events = await h.allEvents();
      const applied = events.filter((e) => comparePositions(e.position, checkpoint) <= 0);
      expect(applied.length).toBeLessThan(events.length);
      expect(await readAccounts(h.db)).toEqual(foldAccounts(applied));
      previous = checkpoint;
      // New events keep arriving between crashes.
      await h.appendMany(Array.from({ length: 5 }, () => accountHistory()));
    }

    const runner = h.runner(accountsProjection());
    await runner.start();
    const events = await h.allEvents();
    await eventually(
      'a new runner caught up',
      async () => (await runner.passed(events.at(-1)!.position, Date.now())) === 'passed',
    );
    expect(await readAccounts(h.db)).toEqual(foldAccounts(events));
    const { rows } = await h.database.pool.query('SELECT events_processed FROM projection_status');
    expect(rows[0].events_processed).toBe(events.length);
  });
});
