import { parseRetryAfter, retryDelay } from '../../src/devin/retry';

const policy = { maxAttempts: 5, minDelayMs: 100, maxDelayMs: 2_000 };

describe('Retry-After', () => {
  const now = Date.parse('2026-01-05T09:00:00Z');

  it.each([
    ['3', 3_000],
    ['0', 0],
    [' 12 ', 12_000],
    ['Mon, 05 Jan 2026 09:00:30 GMT', 30_000],
    ['Mon, 05 Jan 2026 08:00:00 GMT', 0],
  ])('when the header is %j, then the wait is %d ms', (header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms);
  });

  it.each([[null], [''], ['soon'], ['-1'], ['1.5']])(
    'when the header is %j, then there is no wait to honour',
    (header) => {
      expect(parseRetryAfter(header, now)).toBeNull();
    },
  );
});

describe('retryDelay', () => {
  it('when the attempts grow, then the delay lies between the floor and a doubling ceiling, up to the cap', () => {
    for (let i = 0; i < 50; i += 1) {
      expect(retryDelay(policy, 1, null)).toBeGreaterThanOrEqual(100);
      expect(retryDelay(policy, 1, null)).toBeLessThanOrEqual(200);
      expect(retryDelay(policy, 3, null)).toBeGreaterThanOrEqual(100);
      expect(retryDelay(policy, 3, null)).toBeLessThanOrEqual(800);
      expect(retryDelay(policy, 10, null)).toBeLessThanOrEqual(2_000);
    }
  });

  it('when the server asks for longer than the backoff, then the delay is what it asked', () => {
    expect(retryDelay(policy, 1, 1_500)).toBe(1_500);
  });

  it('when the server asks for less than the backoff, then the backoff wins', () => {
    expect(retryDelay(policy, 3, 0)).toBeGreaterThanOrEqual(100);
  });

  it('when the server asks for longer than the policy allows, then there is no retry', () => {
    expect(retryDelay(policy, 1, 2_001)).toBeNull();
  });
});
