import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  ConfigError,
  baseServiceConfig,
  env,
  loadConfig,
  productionSecretIssues,
  refuseUnsafeProductionSecrets,
} from '@meetmatt/infra';

const SANDBOX_SECRET = 'sandbox-ipn-secret';

/** A service schema shaped like the real ones: one provider secret, a database, the broker. */
const schema = z
  .object({
    ...baseServiceConfig,
    DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/meetmatt_payment'),
    PROVIDER_SECRET: z.string().min(1).optional(),
  })
  .superRefine((config, ctx) =>
    refuseUnsafeProductionSecrets(config, ctx, {
      required: ['PROVIDER_SECRET'],
      secrets: ['PROVIDER_SECRET'],
      credentialUrls: ['DATABASE_URL', 'RABBITMQ_URL'],
      refused: [SANDBOX_SECRET],
    }),
  );

const realProduction = {
  NODE_ENV: 'production',
  PROVIDER_SECRET: 'a-real-secret-from-the-store',
  DATABASE_URL: 'postgres://meetmatt_payment:Zq8v1x@postgres:5432/meetmatt_payment',
  RABBITMQ_URL: 'amqp://payment-service:Kd93mf@rabbitmq:5672',
};

function problem(source: Record<string, string>): string {
  try {
    loadConfig(schema, source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('production secrets (refuseUnsafeProductionSecrets)', () => {
  test('when every real secret is set in production, then the configuration loads', () => {
    expect(loadConfig(schema, realProduction)).toMatchObject({ NODE_ENV: 'production' });
  });

  test('when nothing is set in development, then the local defaults load', () => {
    expect(loadConfig(schema, {})).toMatchObject({ NODE_ENV: 'development' });
  });

  test('when a required secret is missing in production, then it is refused by name', () => {
    const { PROVIDER_SECRET: _, ...rest } = realProduction;
    expect(problem(rest)).toMatch(/^Invalid configuration: PROVIDER_SECRET is missing: required/);
  });

  test('when the sandbox secret is given by value in production, then it is refused and not printed', () => {
    const message = problem({ ...realProduction, PROVIDER_SECRET: SANDBOX_SECRET });
    expect(message).toMatch(/PROVIDER_SECRET is \(hidden\): is a sandbox or well-known value/);
    expect(message).not.toContain(SANDBOX_SECRET);
  });

  test.each([
    ['the default broker URL (guest:guest)', { RABBITMQ_URL: undefined }, 'RABBITMQ_URL'],
    ['guest with another password', { RABBITMQ_URL: 'amqp://guest:Xy12@rabbitmq' }, 'RABBITMQ_URL'],
    ['the default database URL (no password)', { DATABASE_URL: undefined }, 'DATABASE_URL'],
    [
      'postgres:postgres',
      { DATABASE_URL: 'postgres://postgres:postgres@postgres:5432/meetmatt_payment' },
      'DATABASE_URL',
    ],
    [
      'the superuser with a strong password',
      { DATABASE_URL: 'postgres://postgres:Zq8v1x9@postgres:5432/meetmatt_payment' },
      'DATABASE_URL',
    ],
    [
      'a service account with password "password"',
      { DATABASE_URL: 'postgres://meetmatt_payment:password@postgres/meetmatt_payment' },
      'DATABASE_URL',
    ],
  ])(
    'when %s is used in production, then it is refused naming the variable',
    (_, change, variable) => {
      const source: Record<string, string> = { ...realProduction };
      for (const [key, value] of Object.entries(change)) {
        if (value === undefined) delete source[key];
        else source[key] = value;
      }
      const message = problem(source);
      expect(message).toContain(`Invalid configuration: ${variable} is `);
      expect(message).toMatch(/refused when NODE_ENV=production/);
      // a password in a URL is never printed
      for (const value of Object.values(change)) {
        const password = value ? new URL(value).password : '';
        if (password) expect(message).not.toContain(`:${password}@`);
      }
    },
  );

  test('when production falls back to the local default broker URL, then the message says the default was refused', () => {
    const { RABBITMQ_URL: _, ...rest } = realProduction;
    expect(problem(rest)).toBe(
      'Invalid configuration: RABBITMQ_URL is not set (its local default): has a default or well-known password, refused when NODE_ENV=production: use the service’s own account',
    );
  });

  test('when the sandbox values are used outside production, then the configuration loads with them', () => {
    expect(loadConfig(schema, { PROVIDER_SECRET: SANDBOX_SECRET })).toMatchObject({
      PROVIDER_SECRET: SANDBOX_SECRET,
      RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
    });
    // the same values, judged as production would judge them
    expect(
      productionSecretIssues(
        { PROVIDER_SECRET: SANDBOX_SECRET, RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672' },
        {
          secrets: ['PROVIDER_SECRET'],
          credentialUrls: ['RABBITMQ_URL'],
          refused: [SANDBOX_SECRET],
        },
      ).map((issue) => issue.variable),
    ).toEqual(['PROVIDER_SECRET', 'RABBITMQ_URL']);
  });
});

describe('secrets from files (<NAME>_FILE)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'meetmatt-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('when a variable is given as a file, then its content is the value, without the newline', () => {
    const file = path.join(dir, 'provider-secret');
    writeFileSync(file, 'a-real-secret-from-a-file\n');
    const { PROVIDER_SECRET: _, ...rest } = realProduction;
    expect(loadConfig(schema, { ...rest, PROVIDER_SECRET_FILE: file }).PROVIDER_SECRET).toBe(
      'a-real-secret-from-a-file',
    );
  });

  test('when the file holds a sandbox value, then production refuses it as it would the variable', () => {
    const file = path.join(dir, 'sandbox-secret');
    writeFileSync(file, `${SANDBOX_SECRET}\n`);
    const { PROVIDER_SECRET: _, ...rest } = realProduction;
    expect(problem({ ...rest, PROVIDER_SECRET_FILE: file })).toMatch(
      /PROVIDER_SECRET is \(hidden\): is a sandbox or well-known value/,
    );
  });

  test('when the file cannot be read, then the _FILE variable is named', () => {
    expect(() => loadConfig(schema, { PROVIDER_SECRET_FILE: path.join(dir, 'missing') })).toThrow(
      /^Invalid configuration: PROVIDER_SECRET_FILE is ".*missing": cannot read it \(ENOENT\)$/,
    );
  });
});

describe('URLs in configuration errors', () => {
  test('when a URL variable holding a password is refused, then the message hides the password', () => {
    const strict = z.object({ RABBITMQ_URL: z.url().refine((u) => u.endsWith('/vhost')) });
    let message = '';
    try {
      loadConfig(strict, { RABBITMQ_URL: 'amqp://svc:S3cr3t-pw@rabbitmq:5672' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('RABBITMQ_URL is "amqp://svc:***@rabbitmq:5672"');
    expect(message).not.toContain('S3cr3t-pw');
  });
});
