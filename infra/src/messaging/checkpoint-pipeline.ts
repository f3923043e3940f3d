/**
 * Batches whose confirms are awaited while the next ones are read and published. Each batch's
 * checkpoint is saved only once the batch and every batch before it are confirmed, in order, so
 * the checkpoint never passes an unconfirmed event; meanwhile the reader is at most `depth`
 * batches ahead. The first failure stops everything: later saves are skipped, `push` throws and
 * `failure` rejects, and the owner restarts from the last checkpoint.
 */
export class CheckpointPipeline {
  readonly failure: Promise<never>;
  private readonly window: Promise<void>[] = [];
  private tail: Promise<void> = Promise.resolve();
  private failed: Error | undefined;
  private rejectFailure!: (error: Error) => void;

  constructor(private readonly depth: number) {
    this.failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));
    this.failure.catch(() => undefined);
  }

  /**
   * Queues a batch: once `confirmed` resolves (and every earlier batch is saved), `save` runs.
   * Resolves when there is room for another batch.
   */
  async push(confirmed: Promise<unknown>, save: () => Promise<void>): Promise<void> {
    // Handled at once (even when this push throws), so a rejection is never "unhandled".
    const outcome = confirmed.then(
      () => undefined,
      (error: unknown) => toError(error),
    );
    this.throwIfFailed();
    const step = this.tail.then(async () => {
      if (this.failed) return;
      try {
        const error = await outcome;
        if (error) throw error;
        await save();
      } catch (error) {
        this.fail(toError(error));
      }
    });
    this.tail = step;
    this.window.push(step);
    while (this.window.length > this.depth) await this.window.shift();
    this.throwIfFailed();
  }

  /** Resolves when every queued batch is saved; throws if one failed. */
  async drain(): Promise<void> {
    await this.tail;
    this.throwIfFailed();
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
