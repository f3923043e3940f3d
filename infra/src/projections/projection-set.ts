import { type Counter } from 'prom-client';
import { type ReadinessCheck } from '../http/readiness';
import { type Metrics } from '../metrics/metrics';
import { type Position } from '../event-store/types';
import { resolveContext } from './context';
import { ProjectionStateError } from './errors';
import {
  DEFAULT_MAX_LAG_EVENTS,
  type ProjectionReadinessOptions,
  projectionReadiness,
  registerProjectionMetrics,
} from './observability';
import {
  type ReplayFrom,
  replayProjection,
  resetProjection,
  resumeProjection,
  skipEvent,
  stopProjection,
} from './operations';
import { type Projection } from './projection';
import { type RebuildOptions, type RebuildResult, rebuildProjection } from './rebuild';
import { cancelRebuild } from './rebuild-job';
import { ProjectionRunner, type ProjectionRunnerOptions } from './runner';
import { type ProjectionStatus, listProjections } from './status';
import { type WaitResult, waitForProjections } from './wait';

/** Lag beyond this reads as "at least" on /metrics: each scrape reads at most this many events. */
const METRICS_LAG_CAP = 10_000;

export interface ProjectionsOptions<DB = unknown> extends Omit<
  ProjectionRunnerOptions<DB>,
  'projection' | 'onApplied'
> {
  projections: Projection[];
  /** Registers lag, state and applied-events metrics. */
  metrics?: Metrics | undefined;
}

/**
 * A service's projections: one runner each, read-your-writes over all of them, status for
 * /readyz, /metrics and the CLI, and the operator actions. Actions taken through this object
 * reach the local runners at once; taken elsewhere, within the runners' control poll.
 */
export class Projections<DB = unknown> {
  readonly runners: ProjectionRunner<DB>[];
  private readonly byName = new Map<string, ProjectionRunner<DB>>();
  private readonly applied: Counter<'projection'> | undefined;

  constructor(private readonly options: ProjectionsOptions<DB>) {
    const names = new Set<string>();
    for (const p of options.projections) {
      if (names.has(p.name)) throw new Error(`projection ${p.name} defined twice`);
      names.add(p.name);
    }
    this.applied = options.metrics
      ? registerProjectionMetrics(options.metrics, () => this.status(METRICS_LAG_CAP)).applied
      : undefined;
    this.runners = options.projections.map(
      (projection) =>
        new ProjectionRunner<DB>({
          ...options,
          projection,
          onApplied: (count) => this.applied?.inc({ projection: projection.name }, count),
        }),
    );
    for (const runner of this.runners) this.byName.set(runner.name, runner);
  }

  async start(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop()));
  }

  /** Read-your-writes: see `waitForProjections`. */
  waitFor(position: Position | undefined, timeoutMs = 2_000): Promise<WaitResult> {
    return waitForProjections(this.runners, position, timeoutMs);
  }

  /** Every projection's status, lag counted up to `lagCap` events. */
  status(lagCap?: number): Promise<ProjectionStatus[]> {
    return listProjections({
      db: this.options.db,
      store: this.options.store,
      ...(lagCap ? { lagCap } : {}),
    });
  }

  readiness(options: ProjectionReadinessOptions = {}): ReadinessCheck {
    // Counting one event past the bound is enough to decide; each probe reads no more.
    const cap = (options.maxLagEvents ?? DEFAULT_MAX_LAG_EVENTS) + 1;
    return projectionReadiness(() => this.status(cap), options);
  }

  async rebuild(name: string, options: RebuildOptions = {}): Promise<RebuildResult> {
    const result = await rebuildProjection(this.options, this.projection(name), options);
    await this.kick(name);
    return result;
  }

  async cancelRebuild(name: string): Promise<void> {
    await cancelRebuild(resolveContext(this.options).db, this.projection(name));
  }

  async reset(name: string): Promise<void> {
    await resetProjection(this.options, this.projection(name));
    await this.kick(name);
  }

  async replay(name: string, from: ReplayFrom): Promise<Position> {
    const position = await replayProjection(this.options, this.projection(name).name, from);
    await this.kick(name);
    return position;
  }

  async skip(name: string, eventId: string): Promise<void> {
    await skipEvent(this.options, this.projection(name).name, eventId);
    await this.kick(name);
  }

  async pause(name: string): Promise<void> {
    await stopProjection(this.options, this.projection(name).name);
    await this.kick(name);
  }

  async resume(name: string): Promise<void> {
    await resumeProjection(this.options, this.projection(name).name);
    await this.kick(name);
  }

  private projection(name: string): Projection {
    const runner = this.byName.get(name);
    if (!runner) throw new ProjectionStateError(`no projection named ${name}`);
    return runner.projection;
  }

  private async kick(name: string): Promise<void> {
    await this.byName.get(name)?.kick();
  }
}
