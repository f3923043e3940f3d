import { randomBytes } from 'node:crypto';
import { parseScenario, planFor, repositoryIn } from './sandbox-scenarios';
import {
  type CreateSessionInput,
  type Delivery,
  type SandboxSession,
  type SessionClock,
  type StatusChange,
  advance,
  deliverMessage,
  forceStatus,
  newSession,
  terminateSession,
} from './sandbox-session';

export interface ListQuery {
  limit: number;
  offset: number;
  tags: string[];
}

/** The sandbox's sessions, in memory; every read first brings a session up to the clock. */
export class SandboxSessions {
  private readonly sessions = new Map<string, SandboxSession>();
  private readonly idempotencyKeys = new Map<string, string>();
  private readonly pullRequestNumbers = new Map<string, number>();
  private readonly clock: SessionClock;

  constructor(
    stepMs: number,
    private readonly now: () => number,
  ) {
    this.clock = { stepMs, pullRequestUrl: (repository) => this.nextPullRequest(repository) };
  }

  /**
   * Throws a `ScenarioError` for a prompt with bad markers. With `idempotent`, a session
   * created idempotently before with the same prompt and title is returned instead.
   */
  create(input: CreateSessionInput): { session: SandboxSession; isNew: boolean } {
    const key = input.idempotent ? JSON.stringify([input.prompt, input.title ?? null]) : null;
    const existing = key === null ? undefined : this.find(this.idempotencyKeys.get(key) ?? '');
    if (existing) return { session: existing, isNew: false };
    const scenario = parseScenario(input.prompt);
    const now = this.now();
    const repository =
      repositoryIn(input.prompt) ?? `meetmatt-agents/agent-${randomBytes(3).toString('hex')}`;
    const plan = planFor(scenario, repository);
    const session = newSession(input, scenario, plan, repository, now, this.clock.stepMs);
    this.sessions.set(session.session_id, session);
    if (key !== null) this.idempotencyKeys.set(key, session.session_id);
    return { session, isNew: true };
  }

  find(sessionId: string): SandboxSession | undefined {
    const session = this.sessions.get(sessionId);
    if (session) advance(session, this.now(), this.clock);
    return session;
  }

  /** Newest first; `tags` keeps the sessions that carry every tag asked for. */
  list(query: ListQuery): SandboxSession[] {
    return this.all()
      .reverse()
      .filter((s) => query.tags.every((tag) => s.input.tags?.includes(tag)))
      .slice(query.offset, query.offset + query.limit);
  }

  /** Every session, oldest first. */
  all(): SandboxSession[] {
    const now = this.now();
    const sessions = [...this.sessions.values()];
    for (const session of sessions) advance(session, now, this.clock);
    return sessions;
  }

  message(session: SandboxSession, text: string): Delivery {
    return deliverMessage(session, text, this.now(), this.clock);
  }

  terminate(session: SandboxSession): boolean {
    return terminateSession(session, this.now());
  }

  force(session: SandboxSession, change: StatusChange): void {
    forceStatus(session, change, this.now(), this.clock);
  }

  clear(): void {
    this.sessions.clear();
    this.idempotencyKeys.clear();
    this.pullRequestNumbers.clear();
  }

  private nextPullRequest(repository: string): string {
    const number = (this.pullRequestNumbers.get(repository) ?? 0) + 1;
    this.pullRequestNumbers.set(repository, number);
    return `https://github.com/${repository}/pull/${number}`;
  }
}
