import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { LeaderLock } from '../coordination/leader-lock';
import { type Position, comparePositions } from '../event-store/types';
import { backoffDelay } from '../runtime/backoff';
import { type ApplyTarget } from './apply-batch';
import { type BlockedReason, type PassOutcome, blockedBy } from './blocked';
import { Changes } from './changes';
import { type ProjectionContext, type ResolvedContext, resolveContext } from './context';
import { rebuildToCodeVersion } from './auto-rebuild';
import { errorMessage } from './errors';
import { type RebuildProgress } from './progress';
import { type Projection } from './projection';
import { passedElsewhere } from './passed-elsewhere';
import { RunnerSession, type SessionEnd } from './runner-session';
import {
  type StatusRow,
  clearLeader,
  liveGuard,
  loadStatusRow,
  markCaughtUp,
  markLeading,
  registerProjection,
  storedPosition,
} from './status-rows';

export type { BlockedReason, PassOutcome } from './blocked';

export interface ProjectionRunnerOptions<DB = unknown> extends ProjectionContext<DB> {
  projection: Projection;
  /** Overrides the projection's batch size. */
  batchSize?: number;
  /** How soon a follower takes over from a leader that died (default 2,000 ms). */
  leaderRetryMs?: number;
  /** How often the leader looks for operator actions taken by other processes (default 1,000 ms). */
  controlPollMs?: number;
  /** How often a checkpoint that only skipped unwanted events is stored (default 1,000 ms). */
  checkpointIntervalMs?: number;
  /** When another instance leads, how often a read-your-writes wait looks at the status table. */
  remotePollMs?: number;
  /** Rebuild when the code's version is newer than the live tables' (default true). */
  rebuildOnVersionChange?: boolean;
  onRebuildProgress?: (progress: RebuildProgress) => void;
  /** Called after each committed batch (metrics). */
  onApplied?: (count: number) => void;
  /** Names this instance in the status table (default host:pid:random). */
  instanceId?: string;
}

/**
 * Runs one projection: one leader across the service's instances (LeaderLock
 * `projection:<name>`) applies batches from the stored checkpoint; the others stand by. See
 * RunnerSession for a batch's transaction, and `passed` for read-your-writes.
 */
export class ProjectionRunner<DB = unknown> {
  readonly projection: Projection;
  private readonly context: ResolvedContext;
  private readonly changes = new Changes();
  private readonly instanceId: string;
  private lock: LeaderLock | undefined;
  private leading: Promise<void> | undefined;
  private autoRebuild: Promise<void> | undefined;
  private stopController = new AbortController();
  private active = false;
  private blocked: BlockedReason | undefined;
  /** Counts operator actions (kicks), so a status row read before one is not trusted after it. */
  private kicks = 0;
  private examined: Position | undefined;
  private session: RunnerSession | undefined;
  private announcements: Promise<void> = Promise.resolve();

  constructor(private readonly options: ProjectionRunnerOptions<DB>) {
    this.projection = options.projection;
    this.context = resolveContext(options);
    this.instanceId =
      options.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const catalog = options.catalog;
    for (const type of this.projection.eventTypes) {
      if (catalog && !catalog.has(type))
        throw new Error(`projection ${this.projection.name}: unknown event type ${type}`);
    }
  }

  get name(): string {
    return this.projection.name;
  }

  /** This instance leads and applies events now. */
  get isActive(): boolean {
    return this.active;
  }

  get isLeader(): boolean {
    return this.lock?.isLeader ?? false;
  }

  /** Everything up to here has been applied or examined by this instance (while active). */
  get position(): Position | undefined {
    return this.examined;
  }

  /** Registers the projection (creating its live tables the first time), then leads when it can. */
  async start(): Promise<void> {
    if (this.lock) return;
    const row = await registerProjection(this.context.db, this.projection, this.context.schema);
    this.stopController = new AbortController();
    this.lock = new LeaderLock({
      connectionString: this.context.connectionString,
      key: `projection:${this.name}`,
      retryMs: this.options.leaderRetryMs ?? 2_000,
      ...(this.context.logger ? { logger: this.context.logger } : {}),
    });
    this.leading = this.lock.run((signal) => this.lead(signal));
    if (this.options.rebuildOnVersionChange !== false && row.version < this.projection.version)
      this.autoRebuild = rebuildToCodeVersion(this.options, this.stopController.signal, () =>
        this.kick(),
      );
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.lock?.stop();
    await Promise.all([this.leading, this.autoRebuild]);
    this.lock = undefined;
    this.changes.notify();
  }

  /**
   * Makes a leader look at its status now, after an operator action in this process. Resolves
   * once read-your-writes can no longer answer from the state before the action.
   */
  async kick(): Promise<void> {
    // Whatever blocked this runner may be over: unknown until the idle loop has looked again.
    this.kicks += 1;
    this.blocked = undefined;
    this.changes.notify();
    const session = this.session;
    // A session that is about to restart (from a moved checkpoint) no longer speaks for it.
    if (session && (await session.checkNow()) && this.session === session) this.active = false;
  }

  /**
   * Resolves once this projection has applied or examined everything up to `position`, or says
   * why it will not soon. Leading here, it waits for its own progress without touching the
   * database; otherwise it polls the status table the leader writes.
   */
  async passed(position: Position, deadline: number): Promise<PassOutcome> {
    for (;;) {
      const wait = deadline - Date.now();
      if (this.isLeader) {
        if (this.active && this.examined && comparePositions(this.examined, position) >= 0)
          return 'passed';
        if (this.blocked) return this.blocked;
        if (wait <= 0) return 'timeout';
        await this.changes.next(wait);
      } else {
        const outcome = await passedElsewhere(this.context, this.projection, position);
        if (outcome) return outcome;
        if (wait <= 0) return 'timeout';
        await this.changes.next(Math.min(wait, this.options.remotePollMs ?? 20));
      }
    }
  }

  private async lead(signal: AbortSignal): Promise<void> {
    const { logger, db } = this.context;
    let failures = 0;
    this.announce(() => markLeading(db, this.name, this.instanceId));
    try {
      while (!signal.aborted) {
        let failure: { error: unknown } | undefined;
        try {
          const end = await this.leadOnce(signal);
          if (end?.kind === 'error') failure = end;
        } catch (error) {
          failure = { error };
        }
        if (!failure) failures = 0;
        if (!failure || signal.aborted) continue;
        failures += 1;
        logger?.warn('projection runner failed, resubscribing', {
          projection: this.name,
          error: errorMessage(failure.error),
          attempt: failures,
        });
        await this.changes.next(backoffDelay(failures, 100, 5_000), signal);
      }
    } finally {
      this.session = undefined;
      this.active = false;
      this.setBlocked(undefined);
      await this.announcements;
      await clearLeader(db, this.name, this.instanceId).catch(() => undefined);
    }
  }

  /** Idles while blocked, or runs one session; returns how the session ended. */
  private async leadOnce(signal: AbortSignal): Promise<SessionEnd | undefined> {
    const { db, schema, logger } = this.context;
    const kicks = this.kicks;
    const row =
      (await loadStatusRow(db, this.name)) ??
      (await registerProjection(db, this.projection, schema));
    // An operator acted while the row was read (a resume, say): it may predate that, read again.
    if (kicks !== this.kicks) return undefined;
    this.setBlocked(blockedBy(row, this.projection));
    if (this.blocked) {
      await this.changes.next(this.options.controlPollMs ?? 1_000, signal);
      return undefined;
    }
    const end = await this.runSession(row, signal);
    if (end.kind === 'poisoned')
      logger?.error('projection stopped on an event it cannot apply', {
        projection: this.name,
        eventId: end.error.eventId,
        error: end.error.reason,
      });
    if (end.kind === 'restart')
      logger?.info('projection restarts from its stored checkpoint', {
        projection: this.name,
        reason: end.reason,
      });
    return end;
  }

  private async runSession(row: StatusRow, signal: AbortSignal): Promise<SessionEnd> {
    const target: ApplyTarget = {
      db: this.context.db,
      projection: this.projection,
      schema: this.context.schema,
      guard: liveGuard(this.projection),
      catalog: this.context.catalog,
      rebuilding: false,
    };
    this.session = new RunnerSession(
      {
        target,
        store: this.context.store,
        batchSize: this.options.batchSize ?? this.projection.batchSize ?? 500,
        controlPollMs: this.options.controlPollMs ?? 1_000,
        checkpointIntervalMs: this.options.checkpointIntervalMs ?? 1_000,
        logger: this.context.logger,
        readStatus: () => loadStatusRow(this.context.db, this.name),
        onPosition: (position) => {
          this.examined = position;
          this.changes.notify();
        },
        onApplied: (count) => this.options.onApplied?.(count),
        onCaughtUp: async () => this.announce(() => markCaughtUp(this.context.db, this.name)),
      },
      storedPosition(row.position),
    );
    this.active = true;
    try {
      return await this.session.run(signal);
    } finally {
      this.session = undefined;
      this.active = false;
      this.changes.notify();
    }
  }

  /**
   * Who leads and whether it caught up are for operators only: written in order, but never
   * awaited, since they queue on the status row behind any batch that holds it (a previous
   * leader's, say) and must not hold this runner back.
   */
  private announce(write: () => Promise<void>): void {
    this.announcements = this.announcements.then(write).catch((error: unknown) => {
      this.context.logger?.debug('projection status not updated', {
        projection: this.name,
        error: errorMessage(error),
      });
    });
  }

  private setBlocked(reason: BlockedReason | undefined): void {
    if (this.blocked === reason) return;
    this.blocked = reason;
    this.changes.notify();
  }
}
