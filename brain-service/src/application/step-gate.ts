/**
 * At most `limit` calls of `run` at once; the others wait their turn, first come first served,
 * urgent ones before the rest. The build tracker's workers go through one, so that however many
 * builds are under way, they never hold more than a few of the service's database connections:
 * the rest stay free for the deploy requests of new payments (the consumer), which must not wait
 * behind polls of old builds. A worker's first step (the one that starts a new build's Devin
 * session) is urgent: under a burst of payments, hundreds of builds poll every second, and new
 * builds queued behind those polls started their sessions seconds late.
 */
export class StepGate {
  private active = 0;
  private readonly urgent: (() => void)[] = [];
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>, options: { urgent?: boolean } = {}): Promise<T> {
    if (this.active >= this.limit)
      await new Promise<void>((resolve) =>
        (options.urgent ? this.urgent : this.waiting).push(resolve),
      );
    else this.active += 1;
    try {
      return await work();
    } finally {
      const next = this.urgent.shift() ?? this.waiting.shift();
      // The slot passes straight to the next in line (active stays the same), or is freed.
      if (next) next();
      else this.active -= 1;
    }
  }
}
