import { type Position, type RecordedEvent, comparePositions } from '../event-store/types';
import { backoffDelay, sleep } from '../runtime/backoff';
import { type ApplyTarget, applyBatch, applyIsolating } from './apply-batch';
import { type ProjectionContext, type ResolvedContext, resolveContext } from './context';
import { tryExclusiveLock } from './exclusive-lock';
import {
  CheckpointMovedError,
  PoisonEventError,
  ProjectionStateError,
  errorMessage,
  isTransientError,
} from './errors';
import { ProgressMeter, type RebuildProgress } from './progress';
import { type Projection } from './projection';
import { type RebuildJob, markRebuildFailed, prepareRebuild, rebuildGuard } from './rebuild-job';
import { registerProjection } from './status-rows';
import { swapRebuild } from './swap';

export interface RebuildOptions {
  /** Events per transaction while building (default 2,000). */
  batchSize?: number;
  onProgress?: (progress: RebuildProgress) => void;
  /** Stops the rebuild between batches; it can be resumed later. */
  signal?: AbortSignal;
  /** Starts from position 0 even when an interrupted rebuild of this version could resume. */
  fresh?: boolean;
  /** How long the swap may hold readers of the live tables back per attempt (default 2,000). */
  swapLockTimeoutMs?: number;
}

export interface RebuildResult {
  projection: string;
  version: number;
  /** Events in the new tables, including those built before a resume. */
  eventsDone: number;
  seconds: number;
  /** Of this run only. */
  eventsPerSecond: number;
  /** The checkpoint the live tables continue from. */
  position: Position;
  resumed: boolean;
}

export const rebuildLockKey = (name: string) => `projection-rebuild:${name}`;

/**
 * Builds the projection's current version from position 0 in a schema of its own while the live
 * tables keep serving (and their runner keeps applying), catches up with the head, then swaps the
 * new tables in atomically. One rebuild per projection at a time, across processes.
 */
export async function rebuildProjection<DB>(
  projectionContext: ProjectionContext<DB>,
  projection: Projection,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const context = resolveContext(projectionContext);
  const lock = await tryExclusiveLock(context.connectionString, rebuildLockKey(projection.name));
  if (!lock) throw new ProjectionStateError(`projection ${projection.name} is already rebuilding`);
  const signal = options.signal ? AbortSignal.any([options.signal, lock.lost]) : lock.lost;
  try {
    await registerProjection(context.db, projection, context.schema);
    const job = await prepareRebuild(context.db, projection, options.fresh ?? false);
    context.logger?.info('projection rebuild started', {
      projection: projection.name,
      version: projection.version,
      resumed: job.resumed,
      from: job.eventsDone,
    });
    return await build(context, projection, job, options, signal);
  } finally {
    await lock.release();
  }
}

async function build(
  context: ResolvedContext,
  projection: Projection,
  job: RebuildJob,
  options: RebuildOptions,
  signal: AbortSignal,
): Promise<RebuildResult> {
  const batchSize = options.batchSize ?? 2_000;
  const head = await context.store.headPosition();
  const meter = new ProgressMeter(
    projection.name,
    projection.version,
    job.position,
    head,
    job.eventsDone,
    options.onProgress,
  );
  try {
    const position = await buildAndSwap(context, projection, job, {
      batchSize,
      meter,
      signal,
      lockTimeoutMs: options.swapLockTimeoutMs ?? 2_000,
    });
    const eventsDone = job.eventsDone;
    const { eventsPerSecond } = meter.report('done', position, eventsDone);
    const seconds = meter.elapsedSeconds();
    context.logger?.info('projection rebuilt and swapped in', {
      projection: projection.name,
      version: projection.version,
      events: eventsDone,
      seconds: Math.round(seconds * 10) / 10,
    });
    return {
      projection: projection.name,
      version: projection.version,
      eventsDone,
      seconds,
      eventsPerSecond,
      position,
      resumed: job.resumed,
    };
  } catch (error) {
    if (!signal.aborted && !(error instanceof CheckpointMovedError)) {
      await markRebuildFailed(context.db, projection.name, job.id, errorMessage(error)).catch(
        () => undefined,
      );
    }
    throw error;
  }
}

interface BuildRun {
  batchSize: number;
  meter: ProgressMeter;
  signal: AbortSignal;
  lockTimeoutMs: number;
}

const SWAP_ATTEMPTS = 20;

/**
 * Builds up to the head, then swaps; when the live runner got ahead meanwhile, or readers made
 * the swap give way, builds the events that arrived since and tries again.
 */
async function buildAndSwap(
  context: ResolvedContext,
  projection: Projection,
  job: RebuildJob,
  run: BuildRun,
): Promise<Position> {
  for (let attempt = 1; ; attempt++) {
    // Read before building: the build's last read then covers every event up to it.
    const head = await context.store.headPosition();
    await buildToHead(context, projection, job, run);
    const checkpoint = head && comparePositions(head, job.position) > 0 ? head : job.position;
    run.meter.report('swapping', checkpoint, job.eventsDone);
    const outcome = await swapRebuild(context, projection, job, checkpoint, run.lockTimeoutMs);
    if (outcome === 'swapped') return checkpoint;
    if (attempt >= SWAP_ATTEMPTS)
      throw new Error(
        `projection ${projection.name}: could not swap (${outcome}) in ${attempt} attempts`,
      );
    context.logger?.warn('projection swap postponed', {
      projection: projection.name,
      outcome,
      attempt,
    });
    if (outcome === 'gave-way') await sleep(backoffDelay(attempt, 50, 1_000), run.signal);
  }
}

/**
 * Reads ahead while it writes: the next batch is fetched from the store while the current one
 * is applied, so reading and writing overlap on two connections.
 */
async function buildToHead(
  context: ResolvedContext,
  projection: Projection,
  job: RebuildJob,
  run: BuildRun,
): Promise<void> {
  const target: ApplyTarget = {
    db: context.db,
    projection,
    schema: job.schema,
    guard: rebuildGuard(projection, job, { asyncCommit: true }),
    catalog: context.catalog,
    rebuilding: true,
  };
  const read = (after: Position) => {
    const reading = context.store.readAll({
      after,
      filter: { eventTypes: [...projection.eventTypes] },
      maxCount: run.batchSize,
    });
    reading.catch(() => undefined); // awaited below; an abort must not leave it unhandled
    return reading;
  };
  let next = read(job.position);
  for (;;) {
    const events = await next;
    run.signal.throwIfAborted();
    const last = events[events.length - 1];
    if (!last) return;
    next = events.length === run.batchSize ? read(last.position) : Promise.resolve([]);
    await applyWithRetry(target, job, events);
    job.position = last.position;
    job.eventsDone += events.length;
    run.meter.report('building', job.position, job.eventsDone);
  }
}

/** A rebuild meets the same poison events as the live runner: it stops and says which. */
async function applyWithRetry(
  target: ApplyTarget,
  job: RebuildJob,
  events: RecordedEvent[],
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await applyBatch(target, job.position, events);
      return;
    } catch (error) {
      if (error instanceof CheckpointMovedError) throw error;
      if (isTransientError(error)) {
        if (attempt >= 5) throw error;
        await sleep(backoffDelay(attempt, 100, 2_000));
        continue;
      }
    }
    const outcome = await applyIsolating(target, job.position, events);
    if (outcome.poison) {
      const { event, error } = outcome.poison;
      throw new PoisonEventError(target.projection.name, event.id, errorMessage(error));
    }
    // Every event applied alone: the batch as a whole was the problem (say, one upsert touching
    // a row twice), which a projection should fix, but which loses nothing.
    return;
  }
}
