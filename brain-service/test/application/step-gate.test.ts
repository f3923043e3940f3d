import { StepGate } from '../../src/application/step-gate';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('StepGate', () => {
  test('when more calls come than the limit, then no more than the limit run at once and the others run in arrival order as slots free up', async () => {
    const gate = new StepGate(2);
    const releases = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const calls = releases.map((release, i) =>
      gate.run(async () => {
        started.push(i);
        running += 1;
        most = Math.max(most, running);
        await release.promise;
        running -= 1;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    releases[1]!.resolve();
    await calls[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const release of releases) release.resolve();
    await expect(Promise.all(calls)).resolves.toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  test('when a call throws, then its slot is handed on and the error reaches its caller', async () => {
    const gate = new StepGate(1);
    const failing = gate.run(() => Promise.reject(new Error('devin down')));
    const next = gate.run(() => Promise.resolve('ran'));
    await expect(failing).rejects.toThrow('devin down');
    await expect(next).resolves.toBe('ran');
  });

  test('when urgent calls wait beside ordinary ones, then each freed slot goes to the urgent first, each kind in arrival order', async () => {
    const gate = new StepGate(1);
    const first = deferred();
    const started: string[] = [];
    const step = (name: string) => async () => void started.push(name);
    const holding = gate.run(() => first.promise);
    const calls = [
      gate.run(step('poll a')),
      gate.run(step('poll b')),
      gate.run(step('start c'), { urgent: true }),
      gate.run(step('start d'), { urgent: true }),
    ];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([]);
    first.resolve();
    await holding;
    await Promise.all(calls);
    expect(started).toEqual(['start c', 'start d', 'poll a', 'poll b']);
  });
});
