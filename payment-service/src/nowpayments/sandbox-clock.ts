/**
 * The sandbox's timers, kept in one place so `stop()` can clear every one of them and nothing
 * fires (or sends an IPN) after the sandbox has stopped.
 */
export class SandboxClock {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    /** How long one scenario step takes: milliseconds in tests, seconds in a demo. */
    readonly stepMs: number,
    readonly now: () => Date = () => new Date(),
  ) {}

  /** Runs `task` after `ms`; returns a handle for `cancel`, or undefined once stopped. */
  after(ms: number, task: () => void): NodeJS.Timeout | undefined {
    if (this.stopped) return undefined;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  cancel(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
