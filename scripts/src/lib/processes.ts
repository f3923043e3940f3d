import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pollUntil } from '@meetmatt/infra/runtime/poll';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');

const COLORS = [36, 35, 33, 32, 34, 31];

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Runs a TypeScript entry point through tsx, prefixing each output line with the process name. */
export function startTsProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  index = 0,
  extraArgs: string[] = [],
): ManagedProcess {
  const args = ['--import', 'tsx', path.join(repoRoot, entry), ...extraArgs];
  return startProcess(name, process.execPath, args, env, index);
}

/** Runs any program the same way. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  index = 0,
): ManagedProcess {
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  pipeLines(name, child, index);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(127));
  });
  return { name, child, exited };
}

export function pipeLines(name: string, child: ChildProcess, index: number): void {
  const color = COLORS[index % COLORS.length];
  const prefix = process.stdout.isTTY
    ? `\x1b[${color}m${name.padEnd(16)}\x1b[0m|`
    : `${name.padEnd(16)}|`;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) =>
      process.stdout.write(`${prefix} ${line}\n`),
    );
  }
}

/** SIGTERM, then SIGKILL after `graceMs` for whatever has not exited. */
export async function stopAll(processes: ManagedProcess[], graceMs = 15_000): Promise<void> {
  await Promise.all(
    processes.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }),
  );
}

/** Polls `url` until it answers 200, the process exits, or the time is up. */
export async function waitUntilReady(
  url: string,
  process: ManagedProcess,
  timeoutMs: number,
): Promise<void> {
  let exited = false;
  void process.exited.then(() => (exited = true));
  let last = 'no answer';
  const ready = await pollUntil(
    async () => {
      if (exited) throw new Error(`${process.name} exited before it was ready`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) return true;
        last = `${res.status} ${await res.text()}`;
      } catch (error) {
        last = (error as Error).message;
      }
      return false;
    },
    { timeoutMs, intervalMs: 200 },
  );
  if (!ready.passed)
    throw new Error(`${process.name} not ready after ${timeoutMs / 1000} s (${last})`);
}
