import { type Counter } from 'prom-client';
import { type Logger, backoffDelay, isDomainError, requestContext, sleep } from '@meetmatt/infra';
import { type DevinClient, DevinError } from '../devin';
import { type Agent, type CurrentSession, isActive, needsSession } from '../domain/agent';
import { type AgentCommand, blockReasonText } from '../domain/agent-decide';
import { isOurRepository } from '../domain/agent-identity';
import { type AgentRepository, type EventContext } from './agent-repository';
import { observeSession } from './session-observation';
import { sessionRequestFor } from './session-request';
import { type StepGate } from './step-gate';

export interface BuildSettings {
  pollIntervalMs: number;
  pollMaxIntervalMs: number;
  /** How long one attempt (one Devin session) may take, from its start. */
  deadlineMs: number;
  /** Failed Devin calls in a row (each after the client's own retries) before the attempt fails. */
  providerErrorLimit: number;
  followUpMessage: string;
  followUpLimit: number;
  /** Attempts per build: 2 retries a failed attempt once with a fresh session. */
  maxAttempts: number;
  maxAcuLimit(plan: string): number;
  /** The organisation every repository Devin works in must belong to. */
  repositoryOwner: string;
}

export interface BuildWorkerDeps {
  agents: AgentRepository;
  devin: DevinClient;
  settings: BuildSettings;
  logger: Logger;
  now: () => Date;
  outcomes?: Counter<'outcome'>;
  /** Bounds how many workers load, decide and call Devin at once (the build tracker's). */
  gate?: StepGate;
}

/**
 * What a step asks of the loop: go on at once (`again`), poll soon because things move
 * (`active`), poll later and later while nothing changes (`idle`), back off after an error.
 */
type StepResult = 'again' | 'active' | 'idle' | 'error';

/**
 * Drives one agent's build to its end: creates the Devin session each attempt needs, polls it,
 * records what changed, answers it when blocked, and records the outcome. Every decision starts
 * from the agent's stream, never from memory, so a worker that dies (or a new leader) resumes
 * exactly where the events say the build is. Returns when the agent is no longer building or
 * `signal` aborts.
 */
export async function trackAgent(
  agentId: string,
  deps: BuildWorkerDeps,
  signal: AbortSignal,
): Promise<void> {
  const { settings } = deps;
  let interval = settings.pollIntervalMs;
  let failures = 0;
  const providerErrors = { count: 0 };
  // The first step starts the build's session; one that follows an 'again' decides at once.
  let urgent = true;
  while (!signal.aborted) {
    let result: StepResult;
    try {
      const once = async (): Promise<StepResult | 'ended'> => {
        const loaded = await deps.agents.load(agentId);
        const state = loaded.state;
        if (!state.exists || !isActive(state)) return 'ended';
        const metadata: EventContext = {
          correlationId: loaded.correlationId ?? agentId,
          causationId: loaded.lastEventId ?? agentId,
          userId: state.userId,
        };
        return requestContext.run({ ...metadata }, () =>
          step(state, metadata, deps, providerErrors, signal),
        );
      };
      const outcome: StepResult | 'ended' = await (deps.gate
        ? deps.gate.run(once, { urgent })
        : once());
      if (outcome === 'ended') return;
      result = outcome;
      failures = result === 'error' ? failures + 1 : 0;
    } catch (error) {
      if (signal.aborted) return;
      deps.logger.warn('build tracking failed, trying again', {
        agentId,
        error: (error as Error).message,
      });
      result = 'error';
      failures += 1;
    }
    urgent = result === 'again';
    if (result === 'again') continue;
    if (result === 'active') interval = settings.pollIntervalMs;
    const wait =
      result === 'error'
        ? backoffDelay(failures, settings.pollIntervalMs, settings.pollMaxIntervalMs)
        : interval;
    if (result === 'idle') interval = Math.min(interval * 2, settings.pollMaxIntervalMs);
    await sleep(wait, signal);
  }
}

async function step(
  agent: Agent,
  metadata: EventContext,
  deps: BuildWorkerDeps,
  providerErrors: { count: number },
  signal: AbortSignal,
): Promise<StepResult> {
  const execute = (command: AgentCommand) => record(agent, command, metadata, deps);
  const stop = stopReason(agent, deps.settings.repositoryOwner);
  if (stop) return stopBuild(agent, stop, execute, deps);
  if (needsSession(agent)) {
    let created;
    try {
      const budget = agent.maxAcuLimit ?? deps.settings.maxAcuLimit(agent.plan);
      const request = sessionRequestFor(agent, budget);
      created = await deps.devin.createSession(request, { signal });
    } catch (error) {
      return providerFailure(agent, null, error, deps, providerErrors, execute);
    }
    providerErrors.count = 0;
    const started = await execute({
      type: 'StartSession',
      data: {
        build: agent.build,
        attempt: agent.attempt,
        sessionId: created.session_id,
        sessionUrl: created.url,
        now: deps.now(),
      },
    });
    if (!started) {
      // The agent moved on while Devin was asked (builds blocked, say): the session is no one's.
      await terminate(created.session_id, deps);
      return 'again';
    }
    deps.logger.info('devin session started', {
      agentId: agent.agentId,
      sessionId: created.session_id,
      build: agent.build,
      attempt: agent.attempt,
      newSession: created.is_new_session ?? null,
    });
    return 'active';
  }
  const session = agent.session!;
  const now = deps.now();
  const pastDeadline = now.getTime() - Date.parse(session.startedAt) > deps.settings.deadlineMs;
  const deadlineFailure = async () => {
    await terminate(session.id, deps);
    const reason = `the build deadline of ${formatMs(deps.settings.deadlineMs)} passed`;
    return fail(agent, session.id, reason, execute, deps);
  };
  let devinSession;
  try {
    devinSession = await deps.devin.getSession(session.id, { signal });
  } catch (error) {
    if (pastDeadline && !isAbort(error)) return deadlineFailure();
    return providerFailure(agent, session.id, error, deps, providerErrors, execute);
  }
  providerErrors.count = 0;
  const observation = observeSession(
    session,
    devinSession,
    { followUpLimit: deps.settings.followUpLimit },
    now,
  );
  if (observation.progress) {
    const recorded = await execute({
      type: 'RecordProgress',
      data: { sessionId: session.id, ...observation.progress, now },
    });
    if (!recorded) return 'again';
  }
  const next = observation.next;
  // An outcome seen on the last poll counts, even past the deadline.
  if (pastDeadline && (next.kind === 'wait' || next.kind === 'follow-up')) return deadlineFailure();
  switch (next.kind) {
    case 'wait':
      return observation.progress ? 'active' : 'idle';
    case 'follow-up':
      return followUp(
        agent,
        { ...session, ...observation.progress },
        deps,
        providerErrors,
        execute,
        signal,
      );
    case 'deployed': {
      const done = await execute({
        type: 'CompleteBuild',
        data: {
          sessionId: session.id,
          pullRequestUrl: next.pullRequestUrl,
          structuredOutput: next.structuredOutput,
          now: deps.now(),
        },
      });
      if (done) {
        deps.outcomes?.inc({ outcome: 'deployed' });
        deps.logger.info('agent deployed', {
          agentId: agent.agentId,
          sessionId: session.id,
          build: agent.build,
          pullRequestUrl: next.pullRequestUrl,
        });
      }
      return 'again';
    }
    case 'failed':
      if (next.terminate) await terminate(session.id, deps);
      return fail(agent, session.id, next.reason, execute, deps);
  }
}

/** `session` as just observed: its status and the follow-ups sent so far. */
async function followUp(
  agent: Agent,
  session: Pick<CurrentSession, 'id' | 'status' | 'followUpsSent'>,
  deps: BuildWorkerDeps,
  providerErrors: { count: number },
  execute: (command: AgentCommand) => Promise<boolean>,
  signal: AbortSignal,
): Promise<StepResult> {
  const sent = session.followUpsSent;
  let delivery;
  try {
    delivery = await deps.devin.sendMessage(session.id, deps.settings.followUpMessage, {
      signal,
    });
  } catch (error) {
    return providerFailure(agent, session.id, error, deps, providerErrors, execute);
  }
  deps.logger.info('answered a blocked devin session', {
    agentId: agent.agentId,
    sessionId: session.id,
    followUp: sent + 1,
    delivered: delivery.delivered,
  });
  if (!delivery.delivered) return 'active';
  await execute({
    type: 'RecordProgress',
    data: {
      sessionId: session.id,
      status: session.status ?? 'blocked',
      lines: [],
      followUpsSent: sent + 1,
      now: deps.now(),
    },
  });
  return 'active';
}

/**
 * A Devin call failed after the client's own retries. A call that could succeed later is
 * tried again on the next steps; the attempt fails when it cannot, or after too many in a row.
 * A refused API key is ours to fix and fails nothing.
 */
async function providerFailure(
  agent: Agent,
  sessionId: string | null,
  error: unknown,
  deps: BuildWorkerDeps,
  providerErrors: { count: number },
  execute: (command: AgentCommand) => Promise<boolean>,
): Promise<StepResult> {
  if (!(error instanceof DevinError) || isAbort(error)) throw error;
  if (error.status === 401 || error.status === 403) {
    // Our key, not the customer's build: failing (and refunding) every build would be wrong.
    // Keep trying, loudly, until the key is fixed (a session's deadline still applies).
    deps.logger.error('devin refused our API key', {
      agentId: agent.agentId,
      sessionId,
      status: error.status,
    });
    return 'error';
  }
  providerErrors.count += 1;
  const lasting = providerErrors.count >= deps.settings.providerErrorLimit;
  deps.logger.warn('devin call failed', {
    agentId: agent.agentId,
    sessionId,
    error: error.message,
    retryable: error.retryable,
    failuresInARow: providerErrors.count,
  });
  if (error.retryable && !lasting) return 'error';
  providerErrors.count = 0;
  return fail(agent, sessionId, `Devin could not be reached: ${error.message}`, execute, deps);
}

async function fail(
  agent: Agent,
  sessionId: string | null,
  reason: string,
  execute: (command: AgentCommand) => Promise<boolean>,
  deps: BuildWorkerDeps,
): Promise<StepResult> {
  const final = agent.attempt >= deps.settings.maxAttempts;
  const failed = await execute({
    type: 'FailBuild',
    data: {
      build: agent.build,
      attempt: agent.attempt,
      sessionId,
      reason,
      maxAttempts: deps.settings.maxAttempts,
      now: deps.now(),
    },
  });
  if (failed) {
    deps.outcomes?.inc({ outcome: final ? 'failed' : 'retried' });
    deps.logger.warn(final ? 'agent build failed' : 'agent build attempt failed, retrying', {
      agentId: agent.agentId,
      sessionId,
      build: agent.build,
      attempt: agent.attempt,
      reason,
    });
  }
  return 'again';
}

/** Best effort: a session we give up on should stop spending the customer's budget. */
async function terminate(sessionId: string, deps: BuildWorkerDeps): Promise<void> {
  try {
    await deps.devin.terminate(sessionId);
  } catch (error) {
    deps.logger.warn('could not terminate a devin session', {
      sessionId,
      error: (error as Error).message,
    });
  }
}

/**
 * Why this build must not go on, if it must not: the payment is being refunded, or the
 * repository is not ours (a stream recorded before repositories were always ours).
 */
function stopReason(agent: Agent, repositoryOwner: string): string | null {
  if (agent.blockedBy) return `stopped: ${blockReasonText(agent.blockedBy)}`;
  if (!isOurRepository(agent.repository, repositoryOwner))
    return `stopped: the repository ${agent.repository} is not under ${repositoryOwner}`;
  return null;
}

/** Stops the session under way, if any, and ends the build for good. */
async function stopBuild(
  agent: Agent,
  reason: string,
  execute: (command: AgentCommand) => Promise<boolean>,
  deps: BuildWorkerDeps,
): Promise<StepResult> {
  const sessionId = agent.session?.id ?? null;
  if (sessionId) await terminate(sessionId, deps);
  const stopped = await execute({
    type: 'StopBuild',
    data: { build: agent.build, attempt: agent.attempt, sessionId, reason, now: deps.now() },
  });
  if (stopped) {
    deps.outcomes?.inc({ outcome: 'stopped' });
    deps.logger.warn('agent build stopped', {
      agentId: agent.agentId,
      sessionId,
      build: agent.build,
      attempt: agent.attempt,
      reason,
    });
  }
  return 'again';
}

/**
 * Appends what a command decided; false when the agent moved on meanwhile (another tracker, a
 * rebuild): the caller reloads and decides again from the new state.
 */
async function record(
  agent: Agent,
  command: AgentCommand,
  metadata: EventContext,
  deps: BuildWorkerDeps,
): Promise<boolean> {
  const result = await deps.agents.execute(agent.agentId, command, metadata);
  if (result.ok) return result.events.length > 0 || command.type === 'StartSession';
  if (!isDomainError(result.error)) throw new Error(String(result.error));
  deps.logger.debug('build step overtaken', {
    agentId: agent.agentId,
    command: command.type,
    code: result.error.code,
  });
  return false;
}

function isAbort(error: unknown): boolean {
  return error instanceof DevinError && error.kind === 'aborted';
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return ms >= 1_000 ? `${ms / 1_000} s` : `${ms} ms`;
}
