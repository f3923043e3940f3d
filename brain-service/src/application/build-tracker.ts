import { type Kysely } from 'kysely';
import { agentEvents } from '@meetmatt/contracts';
import {
  type EventStore,
  LeaderLock,
  type Metrics,
  type Subscription,
  sleep,
} from '@meetmatt/infra';
import { traceFieldsOf, withTraceOf } from '@meetmatt/infra/tracing';
import { agentStreamId } from '../domain/agent-identity';
import { type BrainDb } from '../database';
import { type BuildWorkerDeps, trackAgent } from './build-worker';
import { StepGate } from './step-gate';

export interface BuildTrackerOptions extends Omit<BuildWorkerDeps, 'outcomes' | 'gate'> {
  db: Kysely<BrainDb>;
  store: EventStore;
  /** The service's database: its advisory lock picks the one instance that tracks builds. */
  connectionString: string;
  metrics?: Metrics;
  /** How often the leader looks in the read model for builds it is not tracking yet. */
  scanIntervalMs: number;
  leaderRetryMs?: number;
  /**
   * Workers stepping at once (a step loads the agent, may call Devin and append). The service's
   * pool has 10 connections: builds keep to a few, so new payments' deploy requests never wait
   * for a connection behind them.
   */
  concurrentSteps?: number;
}

const AGENT_PREFIX = agentStreamId('');
const STARTS = [agentEvents.deployRequested.type, agentEvents.rebuildRequested.type];

/**
 * The process manager of builds. One instance of the service leads (LeaderLock `build-tracker`)
 * and runs one worker per agent that is requested or building. It finds them in the agents read
 * model when it starts leading (so a restart resumes every build that was under way) and again
 * every `scanIntervalMs`, and learns of new deploys and rebuilds from a live subscription to the
 * store. Workers read their agent's stream themselves, so a read model that lags only delays.
 */
export class BuildTracker {
  private readonly lock: LeaderLock;
  private readonly workers = new Map<string, Promise<void>>();
  /** Agents whose worker was already running when new work arrived: looked at again after it ends. */
  private readonly recheck = new Set<string>();
  private running: Promise<void> | undefined;
  private readonly deps: BuildWorkerDeps;

  constructor(private readonly options: BuildTrackerOptions) {
    this.lock = new LeaderLock({
      connectionString: options.connectionString,
      key: 'build-tracker',
      logger: options.logger,
      retryMs: options.leaderRetryMs ?? 2_000,
    });
    this.deps = {
      gate: new StepGate(options.concurrentSteps ?? 4),
      agents: options.agents,
      devin: options.devin,
      settings: options.settings,
      logger: options.logger,
      now: options.now,
      ...(options.metrics
        ? {
            outcomes: options.metrics.counter(
              'brain_build_attempts_ended_total',
              'Build attempts that ended: deployed, retried (failed, another attempt follows), failed (final), stopped (by us: payment refunded, repository not ours)',
              ['outcome'],
            ),
          }
        : {}),
    };
    options.metrics?.gauge(
      'brain_builds_tracked',
      'Builds this instance is tracking now',
      [],
      (g) => g.set(this.workers.size),
    );
  }

  get isLeader(): boolean {
    return this.lock.isLeader;
  }

  get tracking(): string[] {
    return [...this.workers.keys()];
  }

  start(): void {
    this.running ??= this.lock.run((signal) => this.lead(signal));
  }

  async stop(): Promise<void> {
    await this.lock.stop();
    await this.running;
  }

  private async lead(signal: AbortSignal): Promise<void> {
    const subscription = this.subscribe(signal);
    try {
      while (!signal.aborted) {
        await this.scan(signal).catch((error: unknown) => {
          if (!signal.aborted)
            this.options.logger.warn('build scan failed', { error: (error as Error).message });
        });
        await sleep(this.options.scanIntervalMs, signal);
      }
    } finally {
      await subscription.stop().catch(() => undefined);
      await Promise.allSettled([...this.workers.values()]);
    }
  }

  private subscribe(signal: AbortSignal): Subscription {
    const subscription = this.options.store.subscribeToAll({
      from: 'end',
      filter: { eventTypes: STARTS, streamPrefixes: [AGENT_PREFIX] },
      onEvents: async (events) => {
        // Each build continues the trace of the request that started it (a paid deploy).
        for (const event of events)
          withTraceOf(traceFieldsOf(event.metadata), () =>
            this.track(event.streamId.slice(AGENT_PREFIX.length), signal),
          );
      },
    });
    subscription.done.catch((error: unknown) => {
      if (!signal.aborted)
        this.options.logger.warn('build subscription ended', { error: (error as Error).message });
    });
    return subscription;
  }

  private async scan(signal: AbortSignal): Promise<void> {
    const rows = await this.options.db
      .selectFrom('agents')
      .select('id')
      .where('status', 'in', ['requested', 'building'])
      .execute();
    for (const row of rows) this.track(row.id, signal);
  }

  private track(agentId: string, signal: AbortSignal): void {
    if (signal.aborted) return;
    if (this.workers.has(agentId)) {
      this.recheck.add(agentId);
      return;
    }
    const worker = trackAgent(agentId, this.deps, signal)
      .catch((error: unknown) => {
        this.options.logger.error('build worker stopped', {
          agentId,
          error: (error as Error).message,
        });
      })
      .finally(() => {
        this.workers.delete(agentId);
        if (this.recheck.delete(agentId)) this.track(agentId, signal);
      });
    this.workers.set(agentId, worker);
  }
}
