import { z } from 'zod';
import { ConfigError, baseServiceConfig, env, loadConfig } from '@meetmatt/infra';

const schema = z.object({
  ...baseServiceConfig,
  PORT: env.port(3001),
  DATABASE_URL: env.url('postgres://postgres@127.0.0.1:5432/x'),
  FEATURE: env.bool(false),
  NOWPAYMENTS_API_KEY: z.string().min(10).optional(),
});

describe('loadConfig', () => {
  test('when nothing is set, then every default applies', () => {
    const config = loadConfig(schema, {});
    expect(config.PORT).toBe(3001);
    expect(config.FEATURE).toBe(false);
    expect(config.RABBITMQ_URL).toBe('amqp://guest:guest@127.0.0.1:5672');
  });

  test('when a variable is set, then it overrides the default, parsed to its type', () => {
    expect(loadConfig(schema, { PORT: '0', FEATURE: 'true' })).toMatchObject({
      PORT: 0,
      FEATURE: true,
    });
  });

  test('when PORT is malformed, then one ConfigError line names PORT and the value', () => {
    expect(() => loadConfig(schema, { PORT: 'abc' })).toThrow(ConfigError);
    try {
      loadConfig(schema, { PORT: 'abc' });
    } catch (error) {
      expect((error as Error).message).toBe(
        'Invalid configuration: PORT is "abc": expected a port number',
      );
      expect((error as Error).message).not.toContain('\n');
    }
  });

  test('when a secret is malformed, then its value is not printed', () => {
    expect(() => loadConfig(schema, { NOWPAYMENTS_API_KEY: 'short' })).toThrow(
      'Invalid configuration: NOWPAYMENTS_API_KEY is (hidden)',
    );
  });

  test('when a URL is malformed, then the variable is named', () => {
    expect(() => loadConfig(schema, { DATABASE_URL: 'not a url' })).toThrow(
      /DATABASE_URL is "not a url": expected a URL/,
    );
  });

  test('when a variable is set to an empty string, then the default applies', () => {
    expect(loadConfig(schema, { PORT: '  ' }).PORT).toBe(3001);
  });

  test('when several variables are wrong, then one error lists each of them with why, on one line', () => {
    let caught: unknown;
    try {
      loadConfig(schema, {
        PORT: 'abc',
        DATABASE_URL: 'not a url',
        FEATURE: 'maybe',
        NOWPAYMENTS_API_KEY: 'short',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems.map((p) => p.variable)).toEqual([
      'PORT',
      'DATABASE_URL',
      'FEATURE',
      'NOWPAYMENTS_API_KEY',
    ]);
    expect(error.message).toBe(
      'Invalid configuration: PORT is "abc": expected a port number; ' +
        'DATABASE_URL is "not a url": expected a URL; FEATURE is "maybe": expected true or false; ' +
        'NOWPAYMENTS_API_KEY is (hidden): Too small: expected string to have >=10 characters',
    );
    expect(error.variable).toBe('PORT');
  });

  test('when a _FILE cannot be read and another variable is wrong, then both are reported', () => {
    expect(() =>
      loadConfig(schema, { NOWPAYMENTS_API_KEY_FILE: '/nonexistent/key', PORT: '-1' }),
    ).toThrow(
      'Invalid configuration: NOWPAYMENTS_API_KEY_FILE is "/nonexistent/key": cannot read it (ENOENT); PORT is "-1": expected a port between 0 and 65535',
    );
  });
});
