import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const serviceDir = path.resolve(__dirname, '..', '..', '..', 'payment-service');

/** What the first import of a service's main.ts does in a fresh process, under `env`. */
async function register(env: Record<string, string>) {
  const script = [
    "require('@meetmatt/infra/tracing/register');",
    "const tracing = require('@meetmatt/infra/tracing');",
    'const sdk = Object.keys(require.cache).some((file) => file.includes("@opentelemetry/sdk-trace-node"));',
    'console.log(JSON.stringify({ enabled: tracing.tracingEnabled(), sdk }));',
  ].join('\n');
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')),
  );
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: serviceDir,
      env: { ...base, ...env },
    });
    return { code: 0, ...(JSON.parse(stdout) as { enabled: boolean; sdk: boolean }) };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

// Each case is a fresh process that loads tsx and the module: seconds on a busy machine.
jest.setTimeout(60_000);

describe('tracing at a service’s first import', () => {
  test('when no OTLP endpoint is set, then tracing is off and the SDK is not even loaded', async () => {
    expect(await register({})).toEqual({ code: 0, enabled: false, sdk: false });
  });

  test('when an OTLP endpoint is set, then tracing starts before anything else loads', async () => {
    expect(await register({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toEqual({
      code: 0,
      enabled: true,
      sdk: true,
    });
  });

  test('when OTEL_SDK_DISABLED is true, then an endpoint alone does not start it', async () => {
    expect(
      await register({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_SDK_DISABLED: 'true',
      }),
    ).toEqual({ code: 0, enabled: false, sdk: false });
  });

  test('when the protocol is one we do not export with, then the process stops with one line naming the variable', async () => {
    const result = await register({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    expect(result.code).toBe(1);
    expect(result.stderr?.trim()).toBe(
      'tracing: OTEL_EXPORTER_OTLP_PROTOCOL must be one of http/protobuf, http/json, got "grpc"',
    );
  });
});
