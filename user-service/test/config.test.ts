import { ConfigError } from '@meetmatt/infra';
import { generateSigningJwk } from '../src/application/signing-keys';
import { loadUserConfig } from '../src/config';

describe('user-service configuration', () => {
  test('when nothing is set, then every setting has a working local default', () => {
    const config = loadUserConfig({});
    expect(config).toMatchObject({
      PORT: 3002,
      ACCESS_TOKEN_TTL_SECONDS: 900,
      PASSWORD_SCRYPT_LOG_N: 17,
      PASSWORD_HASH_CONCURRENCY: 4,
      RECENT_AUTH_MAX_AGE_MS: 600_000,
      NOTIFICATION_STREAMS_PER_USER: 5,
    });
    expect(config.AUTH_SIGNING_KEYS).toBeUndefined();
  });

  test('when NODE_ENV=production has no signing keys, then it refuses to start, naming AUTH_SIGNING_KEYS', () => {
    expect(() => loadUserConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadUserConfig({ NODE_ENV: 'production' })).toThrow(
      /AUTH_SIGNING_KEYS is missing: required when NODE_ENV=production/,
    );
    // the key comes from a secret, never from the database, in production
    expect(() =>
      loadUserConfig({ NODE_ENV: 'production', AUTH_SIGNING_KEYS_FROM_DATABASE: 'true' }),
    ).toThrow(/AUTH_SIGNING_KEYS_FROM_DATABASE is \S+: refused when NODE_ENV=production/);
  });

  test('when the signing keys are given, then they are parsed; malformed ones are refused without showing them', async () => {
    const [a, b] = [await generateSigningJwk(), await generateSigningJwk()];
    const config = loadUserConfig({
      NODE_ENV: 'production',
      AUTH_SIGNING_KEYS: JSON.stringify({ keys: [a, b] }),
      // production also wants the gateway's secret and the service's own accounts
      GATEWAY_SHARED_SECRET: 'gateway-secret-0123456789abcdef',
      DATABASE_URL: 'postgres://meetmatt_user:Xk29fj@postgres:5432/meetmatt_user',
      RABBITMQ_URL: 'amqp://user-service:Pq81nd@rabbitmq:5672',
    });
    expect(config.AUTH_SIGNING_KEYS?.keys.map((k) => k.kid)).toEqual([a.kid, b.kid]);
    for (const bad of [
      'not json',
      JSON.stringify({ keys: [] }),
      JSON.stringify({ keys: [{ ...a, kty: 'RSA' }] }),
      JSON.stringify({ keys: [a, { ...b, kid: a.kid }] }),
      JSON.stringify({ keys: [{ ...a, d: undefined }] }),
    ]) {
      let error: unknown;
      try {
        loadUserConfig({ AUTH_SIGNING_KEYS: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toMatch(/^Invalid configuration: AUTH_SIGNING_KEYS/);
      expect((error as ConfigError).message).not.toContain(a.d);
    }
  });

  test('when ADMIN_EMAILS is set, then it grants nothing: it is no setting any more', () => {
    const config = loadUserConfig({ ADMIN_EMAILS: 'ops@example.com' });
    expect(config).not.toHaveProperty('ADMIN_EMAILS');
  });

  test('when the scrypt cost is out of range, then it is refused', () => {
    expect(() => loadUserConfig({ PASSWORD_SCRYPT_LOG_N: '8' })).toThrow(/PASSWORD_SCRYPT_LOG_N/);
    expect(() => loadUserConfig({ PASSWORD_SCRYPT_LOG_N: '21' })).toThrow(/PASSWORD_SCRYPT_LOG_N/);
  });
});
