import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  type CliFixture,
  type CliResult,
  appendAll,
  cliBin,
  cliLauncher,
  createCliFixture,
  newEvent,
  runCli,
} from '../support/cli';

// Each command is a process of its own (node loads the bundled CLI every time): a few of them outlast 30 s on a
// busy machine.
jest.setTimeout(120_000);

let fixture: CliFixture;
let bigEventId: string;

beforeAll(async () => {
  fixture = await createCliFixture('cli_operator');
  // Far more than a pipe's 64 KiB buffer, so the CLI is still writing when the reader goes.
  const data = Object.fromEntries(
    Array.from({ length: 6_000 }, (_, i) => [`field${i}`, `value ${i} `.repeat(4)]),
  );
  const event = newEvent('payment.invoice_created', data);
  bigEventId = event.id!;
  await appendAll(fixture.services.payment.store, `payment-${randomUUID()}`, [event]);
  for (let i = 0; i < 3; i++)
    await appendAll(fixture.services.payment.store, `payment-${randomUUID()}`, [
      newEvent('payment.invoice_created', { i }),
    ]);
});

afterAll(async () => {
  await fixture?.drop();
});

/**
 * Runs the CLI with stdout piped into a reader that stops reading and closes its end, like
 * `| head -1`: after the first line, or before anything arrives (`closeAt: 'start'`).
 */
function runIntoClosingPipe(
  args: string[],
  closeAt: 'first-line' | 'start',
  launcher: string[] = cliLauncher(),
): Promise<CliResult & { firstLine: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...launcher, ...args], {
      env: fixture.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meetmatt ${args.join(' ')} still running after 60 s`));
    }, 60_000);
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    if (closeAt === 'start') child.stdout.destroy();
    else
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('\n')) child.stdout.destroy();
      });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, firstLine: stdout.split('\n')[0]! });
    });
  });
}

describe('meetmatt in a pipe closed early', () => {
  test('when the reader closes after the first line of events show, then it exits 0 with nothing on stderr', async () => {
    const result = await runIntoClosingPipe(['events', 'show', bigEventId], 'first-line');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.firstLine).toMatch(/\S/);
  });

  test('when the reader has gone before streams list writes, then it exits 0 with nothing on stderr', async () => {
    const result = await runIntoClosingPipe(['streams', 'list'], 'start');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  test('when run through bin/meetmatt.js into a pipe closed after one line, then it exits 0 quietly', async () => {
    const result = await runIntoClosingPipe(['events', 'show', bigEventId], 'first-line', [cliBin]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('meetmatt --version', () => {
  test('when asked for the version, then it prints the scripts workspace version and exits 0', async () => {
    const version = (
      JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    const [plain, json] = await Promise.all([
      runCli(['--version'], fixture.env),
      runCli(['--version', '--json'], fixture.env),
    ]);
    expect(plain).toEqual({ code: 0, stdout: `meetmatt ${version}\n`, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual({ version });
  });
});

describe('meetmatt suggestions and bad values', () => {
  test('when a flag, a command or a subcommand is mistyped, then it exits 2 and suggests the closest one', async () => {
    const [flag, command, subcommand, shell] = await Promise.all([
      runCli(['streams', 'list', '--limt', '5'], fixture.env),
      runCli(['strems', 'list'], fixture.env),
      runCli(['dlq', 'lsit'], fixture.env),
      runCli(['completion', 'bsah'], fixture.env),
    ]);
    expect([flag.code, command.code, subcommand.code, shell.code]).toEqual([2, 2, 2, 2]);
    expect(flag.stderr).toBe(
      'error: unknown option --limt; did you mean --limit? (see meetmatt streams list --help)\n',
    );
    expect(command.stderr).toBe(
      'error: unknown command "strems"; did you mean streams? (see meetmatt --help)\n',
    );
    expect(subcommand.stderr).toBe('error: unknown command "dlq lsit"; did you mean dlq list?\n');
    expect(shell.stderr).toMatch(/did you mean bash\?/);
  });

  test('when a number option gets a negative, zero or non-numeric value, then the message says what it must be and what it got', async () => {
    const results = await Promise.all([
      runCli(['streams', 'list', '--limit', '-3'], fixture.env),
      runCli(['streams', 'list', '-n', '-3'], fixture.env),
      runCli(['streams', 'list', '--limit', '0'], fixture.env),
      runCli(['streams', 'list', '--limit=ten'], fixture.env),
      runCli(['streams', 'list', '--limit'], fixture.env),
    ]);
    expect(results.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
      [2, '', 'error: --limit must be a positive integer, got -3\n'],
      [2, '', 'error: --limit must be a positive integer, got -3\n'],
      [2, '', 'error: --limit must be a positive integer, got 0\n'],
      [2, '', 'error: --limit must be a positive integer, got ten\n'],
      [2, '', 'error: --limit needs a value <n> (see meetmatt streams list --help)\n'],
    ]);
  });
});

describe('meetmatt --json errors', () => {
  test('when a command fails under --json, then stderr holds one JSON error with its kind, message and exit status', async () => {
    const [usage, suggestion, failed] = await Promise.all([
      runCli(['streams', 'list', '--limit', '-3', '--json'], fixture.env),
      runCli(['streams', 'list', '--json', '--limt', '2'], fixture.env),
      runCli(['events', 'show', randomUUID(), '--json'], fixture.env),
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(JSON.parse(usage.stderr)).toEqual({
      error: {
        kind: 'usage',
        message: '--limit must be a positive integer, got -3',
        exitCode: 2,
      },
    });
    expect(JSON.parse(suggestion.stderr)).toMatchObject({
      error: { kind: 'usage', suggestion: '--limit', exitCode: 2 },
    });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(JSON.parse(failed.stderr)).toMatchObject({
      error: { kind: 'failed', exitCode: 1, message: expect.stringMatching(/^no event /) },
    });
  });
});

describe('meetmatt completion', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'meetmatt-completion-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Sources the generated bash script, sets COMP_WORDS as bash would, and returns COMPREPLY. */
  function bashCandidates(script: string, words: string[]): string[] {
    const file = path.join(dir, 'meetmatt.bash');
    writeFileSync(file, script);
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const probe = [
      `source '${file}'`,
      `COMP_WORDS=(${quoted})`,
      `COMP_CWORD=${words.length - 1}`,
      '_meetmatt',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const run = spawnSync('bash', ['--norc', '--noprofile', '-c', probe], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    return run.stdout.split('\n').filter(Boolean).sort();
  }

  test('when bash completes meetmatt, then commands, subcommands, options and option values come from the command table', async () => {
    const result = await runCli(['completion', 'bash'], fixture.env);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const script = result.stdout;
    expect(bashCandidates(script, ['meetmatt', 'st'])).toEqual(['streams']);
    expect(bashCandidates(script, ['meetmatt', ''])).toEqual(
      expect.arrayContaining(['streams', 'trace', 'dlq', 'payments', 'users', 'completion']),
    );
    expect(bashCandidates(script, ['meetmatt', 'streams', ''])).toEqual([
      '--help',
      'list',
      'read',
      'tail',
    ]);
    expect(bashCandidates(script, ['meetmatt', 'streams', 'list', '--l'])).toEqual(['--limit']);
    expect(bashCandidates(script, ['meetmatt', 'streams', 'list', '--service', ''])).toEqual([
      'brain',
      'payment',
      'user',
    ]);
    expect(bashCandidates(script, ['meetmatt', 'trace', '--'])).toEqual(
      expect.arrayContaining(['--json', '--limit', '--help']),
    );
    expect(bashCandidates(script, ['meetmatt', 'completion', ''])).toEqual(['bash', 'zsh']);
    expect(bashCandidates(script, ['meetmatt', 'dlq', 'redrive', '--d'])).toEqual(['--dry-run']);
  });

  test('when zsh completion is asked for, then it defines a compdef function over the same candidates and parses as shell', async () => {
    const [zsh, bash] = await Promise.all([
      runCli(['completion', 'zsh'], fixture.env),
      runCli(['completion', 'bash'], fixture.env),
    ]);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout.split('\n')[0]).toBe('#compdef meetmatt');
    expect(zsh.stdout).toMatch(/compdef _meetmatt meetmatt/);
    const shared = (text: string) =>
      /__meetmatt_candidates\(\) \{[\s\S]*?\n\}/.exec(text)?.[0] ?? 'missing';
    expect(shared(zsh.stdout)).toBe(shared(bash.stdout));
    // zsh is not installed here; the shared function is exercised by the bash test above.
    const file = path.join(dir, '_meetmatt');
    writeFileSync(file, shared(zsh.stdout));
    const check = spawnSync('bash', ['-n', file], { encoding: 'utf8', timeout: 10_000 });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});
