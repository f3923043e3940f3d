import { parseRetryAfter, retryDelay, sleep } from '../../src/devin/retry';

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
  it('when the attempts grow, then the delay doubles within ±20% jitter, up to the cap', () => {
    for (let i = 0; i < 50; i += 1) {
      expect(retryDelay(policy, 1, null)).toBeGreaterThanOrEqual(80);
      expect(retryDelay(policy, 1, null)).toBeLessThanOrEqual(120);
      expect(retryDelay(policy, 3, null)).toBeGreaterThanOrEqual(320);
      expect(retryDelay(policy, 3, null)).toBeLessThanOrEqual(480);
      expect(retryDelay(policy, 10, null)).toBeLessThanOrEqual(2_400);
    }
  });

  it('when the server asks for longer than the backoff, then the delay is what it asked', () => {
    expect(retryDelay(policy, 1, 1_500)).toBe(1_500);
  });

  it('when the server asks for less than the backoff, then the backoff wins', () => {
    expect(retryDelay(policy, 3, 0)).toBeGreaterThanOrEqual(320);
  });

  it('when the server asks for longer than the policy allows, then there is no retry', () => {
    expect(retryDelay(policy, 1, 2_001)).toBeNull();
  });
});

describe('sleep', () => {
  it('when the signal aborts, then the sleep ends at once with the abort reason', async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);

    controller.abort(new Error('stopping'));

    await expect(pending).rejects.toThrow('stopping');
  });
});
