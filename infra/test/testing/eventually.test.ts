import { eventually } from '@meetmatt/infra/testing';

describe('eventually', () => {
  it('when the probe returns false a few times, then it returns the first other value', async () => {
    let tries = 0;
    const value = await eventually('the third try', () => (++tries < 3 ? false : `try ${tries}`), {
      intervalMs: 1,
    });

    expect(value).toBe('try 3');
  });

  it('when the probe throws, then it tries again until it stops throwing', async () => {
    let tries = 0;
    await eventually(
      'an expectation to hold',
      () => {
        tries += 1;
        expect(tries).toBe(4);
      },
      { intervalMs: 1 },
    );

    expect(tries).toBe(4);
  });

  it('when the probe returns undefined (an expect-only probe), then it has passed', async () => {
    let tries = 0;
    await eventually('a void probe', () => {
      tries += 1;
    });

    expect(tries).toBe(1);
  });

  it('when the deadline passes, then it fails naming what it waited for and the last error', async () => {
    const started = Date.now();
    const waiting = eventually(
      'the invoice to be issued',
      () => {
        throw new Error('status was pending');
      },
      { timeoutMs: 60, intervalMs: 5 },
    );

    await expect(waiting).rejects.toThrow(
      'timed out after 60 ms waiting for the invoice to be issued; last try: status was pending',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
  });

  it('when the probe only ever returns false, then the failure names what it waited for', async () => {
    await expect(eventually('a leader', () => false, 30)).rejects.toThrow(
      /^timed out after 30 ms waiting for a leader$/,
    );
  });
});
