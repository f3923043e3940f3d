/** What a batch does once it and every batch before it are confirmed. */
export interface PipelineStep<T> {
  /** Bookkeeping for the confirmed batch, in batch order; never skipped. */
  confirmed?: (value: T) => void;
  /** Saves the batch's checkpoint. Skipped when a later batch's save supersedes it. */
  save: () => Promise<void>;
}

/**
 * Batches whose confirms are awaited while the next ones are read and published. A batch's
 * checkpoint is saved only once the batch and every batch before it are confirmed, in order, so
 * the checkpoint never passes an unconfirmed event; meanwhile the reader is at most `depth`
 * unconfirmed batches ahead. Saves never hold the reader back: one is in flight at a time, and
 * when it ends only the newest confirmed batch's save runs (the ones between are passed by it).
 * Under load that turns a checkpoint write per batch into a few a second, each one a round trip
 * and a transaction the relay no longer waits for. The first failure stops everything: later
 * saves are skipped, `push` throws and `failure` rejects, and the owner restarts from the last
 * checkpoint (the events after it are published again: consumers deduplicate).
 */
export class CheckpointPipeline<T = unknown> {
  readonly failure: Promise<never>;
  private readonly window: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  private saving: Promise<void> | undefined;
  private nextSave: (() => Promise<void>) | undefined;
  private failed: Error | undefined;
  private rejectFailure!: (error: Error) => void;

  constructor(private readonly depth: number) {
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  /**
   * Queues a batch: once `confirmed` resolves (and every earlier batch is confirmed), its step
   * runs. Resolves when there is room for another unconfirmed batch.
   */
  async push(confirmed: Promise<T>, step: PipelineStep<T> | (() => Promise<void>)): Promise<void> {
    const { confirmed: onConfirmed, save } = typeof step === 'function' ? { save: step } : step;
    // Handled at once (even when this push throws), so a rejection is never "unhandled".
    const outcome = confirmed.then(
      (value) => ({ value }),
      (error: unknown) => ({ error: toError(error) }),
    );
    this.throwIfFailed();
    const next = this.tail.then(async () => {
      if (this.failed) return;
      const result = await outcome;
      if ('error' in result) return this.fail(result.error);
      try {
        onConfirmed?.(result.value);
      } catch (error) {
        return this.fail(toError(error));
      }
      this.requestSave(save);
    });
    this.tail = next;
    this.window.push(next);
    while (this.window.length > this.depth) await this.window.shift();
    this.throwIfFailed();
  }

  /** Resolves when every queued batch is confirmed and its checkpoint saved; throws if one failed. */
  async drain(): Promise<void> {
    await this.tail;
    while (this.saving) await this.saving;
    this.throwIfFailed();
  }

  private requestSave(save: () => Promise<void>): void {
    this.nextSave = save;
    this.saving ??= this.saveLoop();
  }

  private async saveLoop(): Promise<void> {
    while (this.nextSave && !this.failed) {
      const save = this.nextSave;
      this.nextSave = undefined;
      try {
        await save();
      } catch (error) {
        this.fail(toError(error));
      }
    }
    this.saving = undefined;
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    this.rejectFailure(error);
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failed;
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
