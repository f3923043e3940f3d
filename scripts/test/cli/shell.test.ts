import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  type CliFixture,
  appendAll,
  cliBin,
  createCliFixture,
  newEvent,
  runCli,
} from '../support/cli';

/**
 * meetmatt in the shells operators use: through a real `| head -1` in bash, and completed by
 * zsh itself (the script sourced after compinit, the candidates it hands to compadd).
 */
jest.setTimeout(120_000);

let fixture: CliFixture;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'meetmatt-shell-'));
  fixture = await createCliFixture('cli_shell');
  // Far more than a pipe's 64 KiB buffer of stream names, so the CLI is still writing when head
  // exits: ~700 streams of ~200 characters.
  const store = fixture.services.payment.store;
  const ids = Array.from({ length: 700 }, () => `payment-${randomUUID()}-${'x'.repeat(150)}`);
  for (let i = 0; i < ids.length; i += 50)
    await Promise.all(
      ids.slice(i, i + 50).map((id) => appendAll(store, id, [newEvent('payment.created', {})])),
    );
});

afterAll(async () => {
  await fixture?.drop();
  rmSync(dir, { recursive: true, force: true });
});

function shell(
  program: 'bash' | 'zsh',
  script: string,
): { status: number | null; stdout: string; stderr: string } {
  const args = program === 'bash' ? ['--norc', '--noprofile', '-c', script] : ['-f', '-c', script];
  const run = spawnSync(program, args, { env: fixture.env, encoding: 'utf8', timeout: 90_000 });
  if (run.error) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('meetmatt in a shell pipe', () => {
  test('when `meetmatt streams list --limit 1000 | head -1` runs in bash, then meetmatt exits 0 with nothing on stderr', () => {
    const run = shell(
      'bash',
      `set -o pipefail; node ${JSON.stringify(cliBin)} streams list --service payment --limit 1000 | head -1`,
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.split('\n')).toHaveLength(2);
    expect(run.stdout).toMatch(/^SERVICE\s+STREAM/);
    // pipefail: the pipeline's status is meetmatt's own (head always exits 0).
    expect(run.status).toBe(0);
  });
});

describe('zsh completion', () => {
  const zshInstalled = spawnSync('zsh', ['--version']).status === 0;

  test('when zsh is asked for, then it is installed (apt-get install zsh; .ci/run does it)', () => {
    expect(zshInstalled).toBe(true);
  });

  test('when the zsh script is sourced after compinit, then meetmatt completes through _meetmatt with the command table’s words', async () => {
    const generated = await runCli(['completion', 'zsh'], fixture.env);
    expect(generated.code).toBe(0);
    const file = path.join(dir, '_meetmatt');
    writeFileSync(file, generated.stdout);
    // compadd and _files stand in for the completion system's own output: they print what zsh
    // would offer.
    const complete = (...words: string[]) =>
      [
        `words=(${words.map((w) => `'${w}'`).join(' ')})`,
        `CURRENT=${words.length}`,
        '_meetmatt | sort',
        "print -r -- '--'",
      ].join('\n');
    const run = shell(
      'zsh',
      [
        `autoload -Uz compinit && compinit -u -d ${JSON.stringify(path.join(dir, 'zcompdump'))}`,
        `source ${JSON.stringify(file)}`,
        'print -r -- "registered: $_comps[meetmatt]"',
        'compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }',
        '_files() { print -r -- FILES; }',
        complete('meetmatt', 'st'),
        complete('meetmatt', 'streams', ''),
        complete('meetmatt', 'streams', 'list', '--l'),
        complete('meetmatt', 'streams', 'list', '--service', ''),
        complete('meetmatt', 'trace', 'some-file'),
      ].join('\n'),
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const [registered, ...answers] = run.stdout.split('\n--\n');
    expect(registered!.split('\n')[0]).toBe('registered: _meetmatt');
    const words = answers.map((a) => a.split('\n').filter(Boolean));
    const first = registered!.split('\n').slice(1);
    expect(first).toEqual(expect.arrayContaining(['streams', 'trace', 'users', 'payments']));
    expect(words[0]).toEqual(['--help', 'list', 'read', 'tail']);
    expect(words[1]).toEqual(expect.arrayContaining(['--limit', '--service', '--json']));
    expect(words[1]).not.toContain('read');
    expect(words[2]).toEqual(['brain', 'payment', 'user']);
    expect(words[3]).toEqual(['FILES']);
  });
});
