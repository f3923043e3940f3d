import { degradesOnly, runReadiness } from '../../src/http/readiness';

describe('readiness of what replicas share', () => {
  test('when a shared projection lags or has failed, then the instance stays ready and /readyz names it as degraded', async () => {
    const projections = {
      name: 'projections',
      check: async () => ({
        ok: false,
        error: 'payments lags 20000 events, 45 s',
        details: { payments: { state: 'running', lagEvents: 20_000 } },
      }),
    };
    const { ready, body } = await runReadiness([
      { name: 'database', check: async () => undefined },
      degradesOnly(projections),
    ]);
    expect(ready).toBe(true);
    expect(body.checks.projections).toEqual({
      ok: true,
      details: {
        payments: { state: 'running', lagEvents: 20_000 },
        degraded: 'payments lags 20000 events, 45 s',
      },
    });
  });

  test("when the shared part cannot even be read, then it is degraded, and the instance's own dependency still decides", async () => {
    const { ready, body } = await runReadiness([
      { name: 'database', check: () => Promise.reject(new Error('database did not answer')) },
      degradesOnly({
        name: 'projections',
        check: () => Promise.reject(new Error('status unreadable')),
      }),
    ]);
    expect(ready).toBe(false);
    expect(body.reason).toBe('database: database did not answer');
    expect(body.checks.projections).toEqual({
      ok: true,
      details: { degraded: 'status unreadable' },
    });
  });
});
