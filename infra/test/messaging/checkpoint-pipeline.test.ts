import { CheckpointPipeline } from '../../src/messaging/checkpoint-pipeline';

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every settled promise run its callbacks. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the checkpoint pipeline', () => {
  test('when a later batch is confirmed before an earlier one, then its checkpoint waits for the earlier one', async () => {
    const pipeline = new CheckpointPipeline(3);
    const saved: number[] = [];
    const first = deferred();
    const second = deferred();
    await pipeline.push(first.promise, async () => void saved.push(1));
    await pipeline.push(second.promise, async () => void saved.push(2));
    second.resolve();
    await settle();
    expect(saved).toEqual([]);
    first.resolve();
    await pipeline.drain();
    expect(saved).toEqual([1, 2]);
  });

  test('when the window is full, then push waits until the oldest batch is confirmed, not saved', async () => {
    const pipeline = new CheckpointPipeline(1);
    const first = deferred();
    const slowSave = deferred();
    await pipeline.push(first.promise, () => slowSave.promise);
    let admitted = false;
    const second = pipeline
      .push(Promise.resolve(), async () => undefined)
      .then(() => (admitted = true));
    await settle();
    expect(admitted).toBe(false);
    first.resolve();
    // The first batch's save is still running: the reader goes on all the same.
    await second;
    expect(admitted).toBe(true);
    slowSave.resolve();
    await pipeline.drain();
  });

  test('when batches are confirmed while a save runs, then each is accounted in order and only the newest is saved next', async () => {
    const pipeline = new CheckpointPipeline<number>(10);
    const confirmed: number[] = [];
    const saved: number[] = [];
    const firstSave = deferred();
    const step = (n: number) => ({
      confirmed: (value: number) => void confirmed.push(value),
      save: async () => {
        if (n === 1) await firstSave.promise;
        saved.push(n);
      },
    });
    await pipeline.push(Promise.resolve(1), step(1));
    await settle();
    const fourth = deferred();
    await pipeline.push(Promise.resolve(2), step(2));
    await pipeline.push(Promise.resolve(3), step(3));
    await pipeline.push(
      fourth.promise.then(() => 4),
      step(4),
    );
    await pipeline.push(Promise.resolve(5), step(5));
    await settle();
    // 5 is confirmed but 4 is not: nothing past 3 may be saved, and 1's save is still running.
    expect(confirmed).toEqual([1, 2, 3]);
    expect(saved).toEqual([]);
    firstSave.resolve();
    await settle();
    // 2's save was passed by 3's while 1's ran.
    expect(saved).toEqual([1, 3]);
    fourth.resolve();
    await pipeline.drain();
    expect(confirmed).toEqual([1, 2, 3, 4, 5]);
    expect(saved[saved.length - 1]).toBe(5);
    expect([...saved].sort((x, y) => x - y)).toEqual(saved);
  });

  test('when a batch is not confirmed, then no later checkpoint is saved and the failure surfaces', async () => {
    const pipeline = new CheckpointPipeline(3);
    const saved: number[] = [];
    const first = deferred();
    await pipeline.push(first.promise, async () => void saved.push(1));
    await pipeline.push(Promise.resolve(), async () => void saved.push(2));
    first.reject(new Error('channel closed'));
    await expect(pipeline.failure).rejects.toThrow('channel closed');
    await expect(pipeline.drain()).rejects.toThrow('channel closed');
    await expect(
      pipeline.push(Promise.reject(new Error('later')), async () => undefined),
    ).rejects.toThrow('channel closed');
    expect(saved).toEqual([]);
  });
});
