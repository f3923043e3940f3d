import { generateSigningJwk } from '../src/application/signing-keys';
import { loadUserConfig } from '../src/config';

/** The secret that makes /auth/verify answer the gateway and nobody else. */
describe('user-service configuration: GATEWAY_SHARED_SECRET', () => {
  let production: Record<string, string>;

  beforeAll(async () => {
    production = {
      NODE_ENV: 'production',
      AUTH_SIGNING_KEYS: JSON.stringify({ keys: [await generateSigningJwk()] }),
      DATABASE_URL: 'postgres://meetmatt_user:Xk29fjw7@postgres:5432/meetmatt_user',
      RABBITMQ_URL: 'amqp://user-service:Pq81ndz4@rabbitmq:5672',
    };
  });

  test('when NODE_ENV=production has no gateway secret, then the service refuses to start, naming it', () => {
    expect(() => loadUserConfig(production)).toThrow(/GATEWAY_SHARED_SECRET/);
    const secret = 'a-real-secret-of-the-gateway-7f3c9a';
    expect(
      loadUserConfig({ ...production, GATEWAY_SHARED_SECRET: secret }).GATEWAY_SHARED_SECRET,
    ).toBe(secret);
  });

  test('when the gateway secret is short, then it is refused without being shown', () => {
    let message = '';
    try {
      loadUserConfig({ GATEWAY_SHARED_SECRET: 'short-one' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/GATEWAY_SHARED_SECRET .*at least 16 characters/);
    expect(message).not.toContain('short-one');
  });

  test('when it is not set outside production, then the configuration loads without it', () => {
    expect(loadUserConfig({}).GATEWAY_SHARED_SECRET).toBeUndefined();
  });
});
