import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const bootstrap = path.join(root, 'scripts', 'bootstrap.js');

interface Figures {
  journeys: number;
  faults: Record<string, number>;
  restarts: Record<string, number>;
  settleMs: number | null;
  problems: number;
}

/** `npm run chaos` with these variables, to its exit, with everything it printed. */
function chaos(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bootstrap, 'chaos'], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // A few minutes on an idle machine; a killed service may take most of a minute to boot on
    // a loaded one. Past that something hangs: SIGTERM lets the run stop and clean up.
    const term = setTimeout(() => child.kill('SIGTERM'), 480_000);
    const kill = setTimeout(() => child.kill('SIGKILL'), 520_000);
    child.on('exit', (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, output });
    });
  });
}

describe('npm run chaos (the short run)', () => {
  test('when 60 journeys of mixed NOWPayments scenarios run through 10 faults, then every check passes and the system settles within 30 s of the last fault', async () => {
    const { code, output } = await chaos({
      CHAOS_JOURNEYS: '60',
      CHAOS_CONCURRENCY: '8',
      CHAOS_FAULT_COUNT: '10',
      // Counted from when every service is ready again, so short: the recovery sets the pace.
      CHAOS_FAULT_INTERVAL_MS: '1000',
      CHAOS_SETTLE_TARGET_MS: '30000',
      CHAOS_SETTLE_TIMEOUT_MS: '90000',
    });
    const lines = output.trim().split('\n');
    // Each problem is a line "  - …", a process's last lines indented under it.
    const problems = lines.filter((line) => line.startsWith('  - ') || line.startsWith('    '));
    // The problems first: on failure they are what a reader needs.
    expect(problems).toEqual([]);
    expect(code).toBe(0);
    const figures = JSON.parse(lines.at(-1) ?? '{}') as Figures;
    expect(figures.journeys).toBe(60);
    expect(Object.values(figures.faults).reduce((a, b) => a + b, 0)).toBe(10);
    expect(figures.settleMs).not.toBeNull();
    expect(figures.settleMs!).toBeLessThanOrEqual(30_000);
    expect(figures.problems).toBe(0);
    expect(output).toMatch(
      /^journeys {6}60 \(paid \d+, duplicate \d+, reversed \d+, lost-ipn \d+, partially-paid \d+, failed \d+\)$/m,
    );
  }, 540_000);
});
