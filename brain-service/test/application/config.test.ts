import { ConfigError } from '@meetmatt/infra';
import { buildsIncludedFor, loadBrainConfig, maxAcuLimitFor } from '../../src/config';
import { SANDBOX_DEVIN_API_KEY } from '../../src/devin';

describe('brain configuration', () => {
  test('when nothing is set, then it talks to the local sandbox with the sandbox key, and plans get their catalogue budgets', () => {
    const config = loadBrainConfig({});
    expect(config.DEVIN_API_URL).toBe('http://127.0.0.1:3102');
    expect(config.DEVIN_API_KEY).toBe(SANDBOX_DEVIN_API_KEY);
    expect(maxAcuLimitFor(config, 'starter')).toBe(10);
    expect(maxAcuLimitFor(config, 'pro')).toBe(50);
    expect(maxAcuLimitFor(config, 'unheard-of')).toBe(config.DEVIN_MAX_ACU_LIMIT);
    expect(config.AGENT_BUILD_ATTEMPTS).toBe(2);
  });

  test('when NODE_ENV is production without DEVIN_API_KEY, then it refuses to start, naming the variable', () => {
    expect(() => loadBrainConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadBrainConfig({ NODE_ENV: 'production' })).toThrow(
      /^Invalid configuration: DEVIN_API_KEY is missing: required when NODE_ENV=production/,
    );
    expect(
      loadBrainConfig({
        NODE_ENV: 'production',
        DEVIN_API_KEY: 'real-key',
        // production also wants the service's own database and broker accounts
        DATABASE_URL: 'postgres://meetmatt_brain:Xk29fj@postgres:5432/meetmatt_brain',
        RABBITMQ_URL: 'amqp://brain-service:Pq81nd@rabbitmq:5672',
      }).DEVIN_API_KEY,
    ).toBe('real-key');
  });

  test('when per-plan budgets are set, then they replace the catalogue’s; malformed ones are refused', () => {
    const config = loadBrainConfig({
      DEVIN_MAX_ACU_LIMITS: '{"starter": 3}',
      DEVIN_MAX_ACU_LIMIT: '7',
    });
    expect(maxAcuLimitFor(config, 'starter')).toBe(3);
    expect(maxAcuLimitFor(config, 'pro')).toBe(7);
    expect(() => loadBrainConfig({ DEVIN_MAX_ACU_LIMITS: '{starter: 3}' })).toThrow(
      /DEVIN_MAX_ACU_LIMITS/,
    );
    expect(() => loadBrainConfig({ DEVIN_MAX_ACU_LIMITS: '{"starter": -1}' })).toThrow(
      /DEVIN_MAX_ACU_LIMITS/,
    );
  });

  test('when nothing is set, then plans include the catalogue’s builds and agents are built under meetmatt-agents', () => {
    const config = loadBrainConfig({});
    expect(buildsIncludedFor(config, 'starter')).toBe(3);
    expect(buildsIncludedFor(config, 'pro')).toBe(10);
    expect(buildsIncludedFor(config, 'enterprise')).toBe(25);
    expect(buildsIncludedFor(config, 'unheard-of')).toBe(3);
    expect(config.AGENT_REPOSITORY_OWNER).toBe('meetmatt-agents');
  });

  test('when per-plan builds are set, then they replace the catalogue’s; malformed ones are refused', () => {
    const config = loadBrainConfig({
      AGENT_BUILDS_INCLUDED_BY_PLAN: '{"starter": 1}',
      AGENT_BUILDS_INCLUDED: '2',
    });
    expect(buildsIncludedFor(config, 'starter')).toBe(1);
    expect(buildsIncludedFor(config, 'pro')).toBe(2);
    for (const bad of ['{starter: 3}', '{"starter": 0}', '{"starter": 1.5}', '[]']) {
      expect(() => loadBrainConfig({ AGENT_BUILDS_INCLUDED_BY_PLAN: bad })).toThrow(
        /AGENT_BUILDS_INCLUDED_BY_PLAN/,
      );
    }
    expect(() => loadBrainConfig({ AGENT_BUILDS_INCLUDED: '0' })).toThrow(/AGENT_BUILDS_INCLUDED/);
    expect(() => loadBrainConfig({ AGENT_REPOSITORY_OWNER: 'evil/owner' })).toThrow(
      /AGENT_REPOSITORY_OWNER/,
    );
  });

  test('when the poll ceiling is below the first interval, then it is refused', () => {
    expect(() =>
      loadBrainConfig({ DEVIN_POLL_INTERVAL_MS: '5000', DEVIN_POLL_MAX_INTERVAL_MS: '1000' }),
    ).toThrow(/DEVIN_POLL_MAX_INTERVAL_MS/);
  });
});
