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

  test('when the window is full, then push waits until the oldest batch is saved', async () => {
    const pipeline = new CheckpointPipeline(1);
    const first = deferred();
    await pipeline.push(first.promise, async () => undefined);
    let admitted = false;
    const second = pipeline
      .push(Promise.resolve(), async () => undefined)
      .then(() => (admitted = true));
    await settle();
    expect(admitted).toBe(false);
    first.resolve();
    await second;
    expect(admitted).toBe(true);
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
