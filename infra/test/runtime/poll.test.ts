import { pollUntil } from '../../src/runtime/poll';

describe('pollUntil', () => {
  it('when the probe passes on a later try, then it returns that value', async () => {
    let tries = 0;
    const polled = await pollUntil(() => (++tries === 3 ? 'ready' : false), {
      timeoutMs: 1_000,
      intervalMs: 1,
    });

    expect(polled).toEqual({ passed: true, value: 'ready' });
    expect(tries).toBe(3);
  });

  it('when the probe returns undefined, then that passes (only false means not yet)', async () => {
    const polled = await pollUntil(() => undefined, { timeoutMs: 1_000 });

    expect(polled).toEqual({ passed: true, value: undefined });
  });

  it('when time runs out, then it ends not passed after trying more than once', async () => {
    let tries = 0;
    const started = Date.now();
    const polled = await pollUntil(
      () => {
        tries += 1;
        return false;
      },
      { timeoutMs: 60, intervalMs: 5 },
    );

    expect(polled).toEqual({ passed: false });
    expect(tries).toBeGreaterThan(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('when the probe throws, then the error ends the polling at once', async () => {
    let tries = 0;
    const polling = pollUntil(
      () => {
        tries += 1;
        throw new Error('the payment ended failed');
      },
      { timeoutMs: 5_000 },
    );

    await expect(polling).rejects.toThrow('the payment ended failed');
    expect(tries).toBe(1);
  });

  it('when the pauses may grow, then each is half again the one before, up to the cap', async () => {
    const at: number[] = [];
    await pollUntil(
      () => {
        at.push(Date.now());
        return at.length === 5;
      },
      { timeoutMs: 5_000, intervalMs: 40, maxIntervalMs: 70 },
    );
    const pauses = at.slice(1).map((t, i) => t - (at[i] ?? t));

    // 40, 60, 70, 70 ms (timers fire late, never early: only the floors are sure)
    expect(pauses[0]).toBeGreaterThanOrEqual(39);
    expect(pauses[1]).toBeGreaterThanOrEqual(59);
    expect(pauses[2]).toBeGreaterThanOrEqual(69);
    expect(pauses[3]).toBeGreaterThanOrEqual(69);
  });

  it('when the signal aborts, then it stops without waiting out the timeout', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const started = Date.now();
    const polled = await pollUntil(() => false, {
      timeoutMs: 10_000,
      intervalMs: 5_000,
      signal: controller.signal,
    });

    expect(polled).toEqual({ passed: false });
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
