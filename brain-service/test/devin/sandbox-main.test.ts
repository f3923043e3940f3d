import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { DevinClient } from '../../src/devin/client';
import { freshKey } from '../support/devin-sandbox';

const ENTRY = path.resolve(__dirname, '../../src/devin/sandbox-main.ts');

interface Started {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function run(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** runMain sends {type: 'ready', url} over IPC once the port is open. */
function ready(started: Started): Promise<string> {
  return new Promise((resolve, reject) => {
    started.child.on('message', (message: { type?: string; url?: string }) => {
      if (message.type === 'ready' && message.url) resolve(message.url);
    });
    void started.exited.then((code) =>
      reject(new Error(`exited with ${code} before ready: ${started.output()}`)),
    );
  });
}

describe('sandbox-main, the standalone Devin sandbox', () => {
  it('when it runs with its environment, then it serves the API with that key and stops on SIGTERM', async () => {
    const apiKey = freshKey();
    const started = run({
      DEVIN_SANDBOX_PORT: '0',
      DEVIN_API_KEY: apiKey,
      DEVIN_SANDBOX_STEP_MS: '5',
    });
    try {
      const url = await ready(started);
      const client = new DevinClient({ apiUrl: url, apiKey });

      const { session_id } = await client.createSession({ prompt: 'Build it [devin:never]' });
      const health = await fetch(`${url}/healthz`);

      expect(health.status).toBe(200);
      expect((await client.getSession(session_id)).status_enum).toBe('working');
      started.child.kill('SIGTERM');
      expect(await started.exited).toBe(0);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
    }
  });

  it('when a variable is malformed, then it exits 1 with one line naming it', async () => {
    const started = run({ DEVIN_SANDBOX_PORT: '0', DEVIN_SANDBOX_STEP_MS: 'fast' });

    expect(await started.exited).toBe(1);
    expect(started.output()).toContain(
      'devin-sandbox: Invalid configuration: DEVIN_SANDBOX_STEP_MS is "fast"',
    );
  });
});
