import { type Position } from '../event-store/types';

export interface RebuildProgress {
  projection: string;
  version: number;
  phase: 'building' | 'swapping' | 'done';
  /** Events applied to the new tables so far (including before a resume). */
  eventsDone: number;
  /** Since this run started. */
  eventsPerSecond: number;
  position: Position;
  /** The head of `$all` when the rebuild started. */
  head: Position | undefined;
  /** Between 0 and 1: how far `position` is from the start towards `head`. */
  fraction: number | undefined;
  estimatedSecondsLeft: number | undefined;
}

/**
 * Turns positions into progress. Counting the events a rebuild has ahead would cost a scan of
 * `$all`; the `prepare` half of a position (the global position in PostgreSQL, the log offset in
 * EventStoreDB) grows with the log, so the share of it covered is a free estimate of the share
 * of the work done.
 */
export class ProgressMeter {
  private readonly started = process.hrtime.bigint();

  constructor(
    private readonly projection: string,
    private readonly version: number,
    private readonly start: Position,
    private readonly head: Position | undefined,
    private readonly eventsAtStart: number,
    private readonly onProgress: ((progress: RebuildProgress) => void) | undefined,
  ) {}

  report(phase: RebuildProgress['phase'], position: Position, eventsDone: number): RebuildProgress {
    const seconds = this.elapsedSeconds();
    const fraction = this.fraction(position, phase);
    const progress: RebuildProgress = {
      projection: this.projection,
      version: this.version,
      phase,
      eventsDone,
      eventsPerSecond: seconds > 0 ? (eventsDone - this.eventsAtStart) / seconds : 0,
      position,
      head: this.head,
      fraction,
      estimatedSecondsLeft:
        fraction === undefined || fraction === 0
          ? undefined
          : (seconds * (1 - fraction)) / fraction,
    };
    this.onProgress?.(progress);
    return progress;
  }

  elapsedSeconds(): number {
    return Number(process.hrtime.bigint() - this.started) / 1e9;
  }

  private fraction(position: Position, phase: RebuildProgress['phase']): number | undefined {
    if (phase === 'done') return 1;
    if (!this.head) return undefined;
    const span = Number(this.head.prepare - this.start.prepare);
    if (span <= 0) return 1;
    const covered = Number(position.prepare - this.start.prepare);
    return Math.min(1, Math.max(0, covered / span));
  }
}
