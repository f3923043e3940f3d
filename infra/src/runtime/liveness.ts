import type pg from 'pg';

export interface LivenessReport {
  alive: boolean;
  reason?: string;
  eventLoopLagMs: number;
  poolStuckMs: number;
}

export interface LivenessOptions {
  /** The request pool: waiters with no connection handed out for this long mean a wedge. */
  pool?: pg.Pool;
  /** How long the event loop or the pool may be stuck before the instance reports itself dead. */
  stuckMs: number;
  /** How often the monitor samples. */
  sampleMs?: number;
}

/**
 * What /healthz answers: whether this process can still make progress. An orchestrator
 * restarts an instance whose liveness fails, so it fails only for what a restart cures: an
 * event loop that stopped turning (a timer fires far later than asked) or a request pool that
 * has had callers waiting and handed no connection out for longer than `stuckMs`, with every
 * connection it may open checked out (held by something that will never finish). A pool that
 * cannot connect at all is a database outage, which a restart would not cure. A dependency that is simply down is
 * readiness's business, not liveness's: restarting would not bring it back.
 */
export class Liveness {
  private timer: NodeJS.Timeout | undefined;
  private lastSample = 0;
  private worstLagMs = 0;
  private lagSince = 0;
  private acquiredSinceSample = false;
  private stuckSince: number | undefined;
  private readonly onAcquire = () => {
    this.acquiredSinceSample = true;
  };

  constructor(
    private readonly options: LivenessOptions,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer) return;
    const sampleMs = this.options.sampleMs ?? 1_000;
    this.lastSample = this.now();
    this.options.pool?.on('acquire', this.onAcquire);
    this.timer = setInterval(() => this.sample(sampleMs), sampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.options.pool?.off('acquire', this.onAcquire);
  }

  report(): LivenessReport {
    const now = this.now();
    const { stuckMs } = this.options;
    // A sample overdue right now is lag too: the loop is turning only for this request.
    const sampleMs = this.options.sampleMs ?? 1_000;
    const overdueMs = this.timer ? Math.max(0, now - this.lastSample - sampleMs) : 0;
    const eventLoopLagMs = Math.max(overdueMs, this.recentLagMs(now));
    const poolStuckMs = this.stuckSince === undefined ? 0 : now - this.stuckSince;
    if (eventLoopLagMs > stuckMs)
      return {
        alive: false,
        reason: `event loop stalled for ${eventLoopLagMs} ms`,
        eventLoopLagMs,
        poolStuckMs,
      };
    if (poolStuckMs > stuckMs)
      return {
        alive: false,
        reason: `database pool handed out no connection for ${poolStuckMs} ms while requests waited`,
        eventLoopLagMs,
        poolStuckMs,
      };
    return { alive: true, eventLoopLagMs, poolStuckMs };
  }

  /**
   * The worst lag of the last few samples: a probe that waited out a stall sees it, while a
   * loop that has been turning freely again since is alive (restarting it would cure nothing).
   */
  private recentLagMs(now: number): number {
    const windowMs = 3 * (this.options.sampleMs ?? 1_000);
    return now - this.lagSince <= windowMs ? this.worstLagMs : 0;
  }

  private sample(sampleMs: number): void {
    const now = this.now();
    const lag = Math.max(0, now - this.lastSample - sampleMs);
    this.lastSample = now;
    if (lag >= this.recentLagMs(now)) {
      this.worstLagMs = lag;
      this.lagSince = now;
    }
    const pool = this.options.pool;
    if (pool && wedged(pool) && !this.acquiredSinceSample) {
      this.stuckSince ??= now - sampleMs;
    } else {
      this.stuckSince = undefined;
    }
    this.acquiredSinceSample = false;
  }
}

/** Callers waiting while every connection the pool may have is open and checked out. */
function wedged(pool: pg.Pool): boolean {
  const max = pool.options.max ?? 10;
  return pool.waitingCount > 0 && pool.idleCount === 0 && pool.totalCount >= max;
}
