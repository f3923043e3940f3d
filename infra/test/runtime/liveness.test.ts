import { Liveness } from '../../src/runtime/liveness';
import { sleep } from '@meetmatt/infra/runtime/backoff';

/** Blocks the event loop for `ms`, as a runaway synchronous computation would. */
function blockFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spinning on purpose
  }
}

describe('liveness of the event loop', () => {
  test('when the event loop stalls longer than the bound, then a probe answered right after reports it, and it is alive again once the loop turns freely', async () => {
    const liveness = new Liveness({ stuckMs: 300, sampleMs: 50 });
    liveness.start();
    try {
      await sleep(120);
      expect(liveness.report().alive).toBe(true);

      blockFor(450);
      const afterStall = liveness.report();
      expect(afterStall.alive).toBe(false);
      expect(afterStall.reason).toMatch(/event loop stalled/);

      await sleep(400);
      expect(liveness.report()).toMatchObject({ alive: true });
    } finally {
      liveness.stop();
    }
  });

  test('when the event loop only hiccups below the bound, then the process stays alive', async () => {
    const liveness = new Liveness({ stuckMs: 500, sampleMs: 50 });
    liveness.start();
    try {
      await sleep(120);
      blockFor(150);
      expect(liveness.report().alive).toBe(true);
      await sleep(120);
      expect(liveness.report().alive).toBe(true);
    } finally {
      liveness.stop();
    }
  });
});
