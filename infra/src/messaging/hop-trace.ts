import { type WriteStream, createWriteStream } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with a fraction, comparable with PostgreSQL's `now()` on this host. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One relay batch: when the relay read it, handed it to the channel, and had every confirm. */
export interface RelayHop {
  hop: 'relay';
  ids: string[];
  seen: number;
  published: number;
  confirmed: number;
}

/** One consumed message: when it was delivered, and when its handler finished. */
export interface ConsumeHop {
  hop: 'consume';
  queue: string;
  id: string;
  delivered: number;
  handled: number;
}

export type Hop = RelayHop | ConsumeHop;

/**
 * Where each event spends its time on the bus, written as one JSON line per relay batch and per
 * consumed message to BUS_HOP_TRACE_FILE (`npm run bench -- flow` reads it). Off unless that is
 * set; the file holds event ids and times only, never payloads.
 */
export class HopTrace {
  /** Lines not yet written: one write per `flushMs` instead of one per hop (the bench measures us). */
  private pending: string[] = [];
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly out: WriteStream,
    flushMs: number,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  static open(file: string | undefined, flushMs = 200): HopTrace | undefined {
    return file ? new HopTrace(createWriteStream(file, { flags: 'a' }), flushMs) : undefined;
  }

  record(hop: Hop): void {
    this.pending.push(JSON.stringify(hop));
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    return new Promise((resolve) => this.out.end(resolve));
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.out.write(`${this.pending.join('\n')}\n`);
    this.pending = [];
  }
}
