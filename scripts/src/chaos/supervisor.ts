import { type ManagedProcess, startTsProcess } from '../lib/processes';

interface Spec {
  name: string;
  entry: string;
  env: Record<string, string>;
  index: number;
}

/** An exit the supervisor did not cause: a process that decided (or was made) to die by itself. */
export interface UnexpectedExit {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface SupervisorOptions {
  /** The first restart's delay; doubled for a process that dies again soon after, up to the max. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A process that stayed up this long is healthy again: its next restart is quick. */
  stableAfterMs?: number;
  log?: (line: string) => void;
}

/**
 * Starts processes again when they die, as an orchestrator would (with backoff), and keeps the
 * figures: restarts per process, and every exit it did not ask for. `startTs` is handed to
 * `launchSystem`, which records in it how each sandbox and service is started.
 */
export class Supervisor {
  private readonly specs = new Map<string, Spec>();
  private readonly current = new Map<string, ManagedProcess>();
  private readonly backoff = new Map<string, number>();
  private readonly killing = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  readonly restarts = new Map<string, number>();
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly options: Required<Omit<SupervisorOptions, 'log'>> &
    Pick<SupervisorOptions, 'log'>;

  constructor(options: SupervisorOptions = {}) {
    this.options = {
      minBackoffMs: options.minBackoffMs ?? 250,
      maxBackoffMs: options.maxBackoffMs ?? 8_000,
      stableAfterMs: options.stableAfterMs ?? 20_000,
      log: options.log,
    };
  }

  readonly startTs = (
    name: string,
    entry: string,
    env: Record<string, string>,
    index = 0,
  ): ManagedProcess => {
    this.specs.set(name, { name, entry, env, index });
    return this.spawn(name);
  };

  /** The names of the processes it supervises. */
  names(): string[] {
    return [...this.specs.keys()];
  }

  /** Whether `name` is running right now (not between a death and its restart). */
  isRunning(name: string): boolean {
    const p = this.current.get(name);
    return p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
  }

  /** SIGKILLs `name`; it is started again like any process that died. */
  kill(name: string): boolean {
    const p = this.current.get(name);
    if (!p || !this.isRunning(name)) return false;
    this.killing.add(name);
    return p.child.kill('SIGKILL');
  }

  totalRestarts(): number {
    let total = 0;
    for (const n of this.restarts.values()) total += n;
    return total;
  }

  /** Stops restarting and stops every process: SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<{ name: string; forced: boolean }[]> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    return Promise.all(
      [...this.current.values()].map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) {
          return { name: p.name, forced: false };
        }
        let forced = false;
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => {
          forced = true;
          p.child.kill('SIGKILL');
        }, graceMs);
        await p.exited;
        clearTimeout(timer);
        return { name: p.name, forced };
      }),
    );
  }

  private spawn(name: string): ManagedProcess {
    const spec = this.specs.get(name)!;
    const started = Date.now();
    const p = startTsProcess(spec.name, spec.entry, spec.env, spec.index);
    this.current.set(name, p);
    p.child.on('exit', (code, signal) => {
      if (this.stopping) return;
      const expected = this.killing.delete(name);
      if (!expected) {
        this.unexpectedExits.push({ name, code, signal, at: Date.now() });
        this.options.log?.(`${name} exited by itself (code ${code}, signal ${signal})`);
      }
      const upFor = Date.now() - started;
      const previous = this.backoff.get(name);
      const delay =
        previous === undefined || upFor >= this.options.stableAfterMs
          ? this.options.minBackoffMs
          : Math.min(previous * 2, this.options.maxBackoffMs);
      this.backoff.set(name, delay);
      this.options.log?.(`starting ${name} again in ${delay} ms`);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (this.stopping) return;
        this.restarts.set(name, (this.restarts.get(name) ?? 0) + 1);
        this.spawn(name);
      }, delay);
      this.timers.add(timer);
    });
    return p;
  }
}
