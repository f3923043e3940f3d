import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '@meetmatt/infra';
import { NowPaymentsClient } from '../../src/nowpayments/client';
import { sandboxConfigSchema } from '../../src/nowpayments/sandbox-main';
import { paymentInput } from '../support/nowpayments-sandbox';

const ENTRY = path.resolve(__dirname, '../../src/nowpayments/sandbox-main.ts');

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

describe('sandbox-main, the standalone NOWPayments sandbox', () => {
  it('when nothing is set, then the local defaults apply', () => {
    expect(loadConfig(sandboxConfigSchema, {})).toEqual({
      NOWPAYMENTS_SANDBOX_PORT: 3101,
      HOST: '127.0.0.1',
      NOWPAYMENTS_API_KEY: 'sandbox-api-key',
      NOWPAYMENTS_IPN_SECRET: 'sandbox-ipn-secret',
      NOWPAYMENTS_SANDBOX_STEP_MS: 1500,
      LOG_LEVEL: 'info',
    });
  });

  it('when it runs with its environment, then it accepts that key and stops on SIGTERM with 0', async () => {
    const apiKey = `key-${Date.now()}`;
    const started = run({
      NOWPAYMENTS_SANDBOX_PORT: '0',
      NOWPAYMENTS_API_KEY: apiKey,
      NOWPAYMENTS_IPN_SECRET: 'main-test-secret',
      NOWPAYMENTS_SANDBOX_STEP_MS: '60000',
    });
    try {
      const url = await ready(started);
      const client = new NowPaymentsClient({ apiUrl: url, apiKey });

      const created = await client.createPayment(paymentInput('http://127.0.0.1:9/hook'));
      const wrongKey = new NowPaymentsClient({ apiUrl: url, apiKey: 'sandbox-api-key' });

      expect((await client.getPayment(created.paymentId)).status).toBe('waiting');
      await expect(wrongKey.currencies()).rejects.toMatchObject({ httpStatus: 403 });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      started.child.kill('SIGTERM');
      expect(await started.exited).toBe(0);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
    }
  });

  it('when a variable is malformed, then it exits 1 with one line naming it', async () => {
    const started = run({ NOWPAYMENTS_SANDBOX_PORT: '0', NOWPAYMENTS_SANDBOX_STEP_MS: 'fast' });

    expect(await started.exited).toBe(1);
    expect(started.output()).toContain(
      'nowpayments-sandbox: Invalid configuration: NOWPAYMENTS_SANDBOX_STEP_MS is "fast"',
    );
  });
});
