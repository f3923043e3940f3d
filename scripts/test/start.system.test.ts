import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { dropDatabase, withDatabase } from '@meetmatt/infra';
import { createTestVhost, randomSuffix, testServers } from '@meetmatt/infra/testing';
import { pollUntil } from '@meetmatt/infra/runtime/poll';

const root = path.resolve(__dirname, '..', '..');
const bootstrap = path.join(root, 'scripts', 'bootstrap.js');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `npm start` with these variables over the environment, to its exit. */
function startWith(env: Record<string, string>) {
  return spawnSync(process.execPath, [bootstrap, 'start'], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('npm start', () => {
  test('when GATEWAY_PORT is malformed, then it exits non-zero with one line naming GATEWAY_PORT', () => {
    const result = startWith({ GATEWAY_PORT: 'abc' });
    expect(result.status).not.toBe(0);
    const lines = `${result.stdout}${result.stderr}`.trim().split('\n');
    expect(lines).toEqual(['Invalid configuration: GATEWAY_PORT is "abc": expected a port number']);
  });

  test.each([
    ['0', 'expected at least 1'],
    ['10', 'expected at most 9'],
    ['two', 'expected a number'],
  ])('when REPLICAS is %s, then it exits non-zero with one line naming REPLICAS', (value, why) => {
    const result = startWith({ REPLICAS: value });
    expect(result.status).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`.trim().split('\n')).toEqual([
      `Invalid configuration: REPLICAS is "${value}": ${why}`,
    ]);
  });

  test('when a service variable is malformed, then it exits non-zero naming it before starting anything', () => {
    const result = startWith({ LOG_LEVEL: 'loud' });
    expect(result.status).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`.trim().split('\n')).toEqual([
      expect.stringMatching(/^Invalid configuration: LOG_LEVEL is "loud"/),
    ]);
  });

  test('when started, then the sandboxes, the three services and the gateway become ready and Ctrl-C stops them all', async () => {
    const suffix = randomSuffix();
    const vhost = await createTestVhost('start');
    const ports = { payment: await freePort(), user: await freePort(), brain: await freePort() };
    const databases = {
      PAYMENT_DATABASE_URL: withDatabase(testServers.postgresUrl, `mm_start_payment_${suffix}`),
      USER_DATABASE_URL: withDatabase(testServers.postgresUrl, `mm_start_user_${suffix}`),
      BRAIN_DATABASE_URL: withDatabase(testServers.postgresUrl, `mm_start_brain_${suffix}`),
    };
    const gatewayPort = await freePort();
    const child = spawn(process.execPath, [bootstrap, 'start'], {
      cwd: root,
      env: {
        ...process.env,
        GATEWAY_PORT: String(gatewayPort),
        NOWPAYMENTS_SANDBOX_PORT: String(await freePort()),
        DEVIN_SANDBOX_PORT: String(await freePort()),
        PAYMENT_SERVICE_PORT: String(ports.payment),
        USER_SERVICE_PORT: String(ports.user),
        BRAIN_SERVICE_PORT: String(ports.brain),
        RABBITMQ_URL: vhost.url,
        LOG_LEVEL: 'warn',
        ...databases,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    try {
      const ready = await pollUntil(
        () => {
          if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
          return output.includes('is ready');
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      if (!ready.passed) throw new Error(`not ready within a minute:\n${output}`);
      expect(output).toContain(`is ready`);
      expect(output).toContain(`http://127.0.0.1:${gatewayPort}`);
      for (const port of Object.values(ports)) {
        expect(output).toContain(`http://127.0.0.1:${port}`);
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        expect(res.status).toBe(200);
      }
      const gateway = await fetch(`http://127.0.0.1:${gatewayPort}/healthz`);
      expect(gateway.status).toBe(200);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(output).toContain('stopped');
      for (const port of [...Object.values(ports), gatewayPort]) {
        await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await Promise.all(Object.values(databases).map((url) => dropDatabase(url)));
      await vhost.drop();
    }
  }, 90_000);
});
