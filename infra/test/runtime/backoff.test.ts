import { backoffDelay, sleep } from '../../src/runtime/backoff';

describe('backoffDelay', () => {
  it('when the attempts grow, then each delay lies between the floor and a doubling ceiling, up to the cap', () => {
    for (let i = 0; i < 200; i += 1) {
      const first = backoffDelay(1, 100, 2_000);
      const third = backoffDelay(3, 100, 2_000);
      const tenth = backoffDelay(10, 100, 2_000);
      expect(first).toBeGreaterThanOrEqual(100);
      expect(first).toBeLessThanOrEqual(200);
      expect(third).toBeGreaterThanOrEqual(100);
      expect(third).toBeLessThanOrEqual(800);
      expect(tenth).toBeGreaterThanOrEqual(100);
      expect(tenth).toBeLessThanOrEqual(2_000);
    }
  });

  it('when many delays are drawn, then they spread over the whole range (full jitter)', () => {
    const delays = Array.from({ length: 500 }, () => backoffDelay(10, 10, 1_000));

    expect(Math.min(...delays)).toBeLessThan(110);
    expect(Math.max(...delays)).toBeGreaterThan(900);
  });

  it('when the floor is above the cap, then the delay is the cap', () => {
    expect(backoffDelay(3, 500, 200)).toBe(200);
  });
});

describe('sleep', () => {
  it('when the signal aborts, then the sleep resolves at once', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = sleep(60_000, controller.signal);

    controller.abort(new Error('stopping'));

    await expect(pending).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('when the signal has already aborted, then the sleep does not wait', async () => {
    const controller = new AbortController();
    controller.abort();
    const started = Date.now();

    await sleep(60_000, controller.signal);

    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('when nothing aborts it, then the sleep lasts its time', async () => {
    const started = Date.now();

    await sleep(30);

    expect(Date.now() - started).toBeGreaterThanOrEqual(29);
  });
});
