import { type AgentEvent as ContractAgentEvent, agentEvents } from '@meetmatt/contracts';
import { type Decider, type DomainError, domainError, isDomainError } from '@meetmatt/infra/domain';
import {
  type Agent,
  type AgentEvent,
  type AgentState,
  type BuildBlockReason,
  evolveAgent,
  initialAgentState,
  isActive,
} from './agent';
import { isOurRepository } from './agent-identity';

type Data<T extends ContractAgentEvent['type']> = Extract<ContractAgentEvent, { type: T }>['data'];
type BuildLogLine = Data<'agent.build-progressed'>['lines'][number];

export type AgentCommand =
  | {
      type: 'RequestDeploy';
      data: Omit<Data<'agent.deploy-requested'>, 'requestedAt'> & {
        /** The organisation every agent repository must belong to (AGENT_REPOSITORY_OWNER). */
        repositoryOwner: string;
        now: Date;
      };
    }
  | {
      type: 'StartSession';
      data: { build: number; attempt: number; sessionId: string; sessionUrl: string; now: Date };
    }
  | {
      type: 'RecordProgress';
      data: {
        sessionId: string;
        status: string;
        lines: BuildLogLine[];
        followUpsSent: number;
        now: Date;
      };
    }
  | {
      type: 'CompleteBuild';
      data: {
        sessionId: string;
        pullRequestUrl: string | null;
        structuredOutput: Record<string, unknown> | null;
        now: Date;
      };
    }
  | {
      type: 'FailBuild';
      data: {
        build: number;
        attempt: number;
        sessionId: string | null;
        reason: string;
        /** Attempts a build gets in all (2: retried once with a fresh session). */
        maxAttempts: number;
        now: Date;
      };
    }
  | {
      type: 'RequestRebuild';
      data: {
        userId: string;
        admin: boolean;
        instructions?: string | undefined;
        /** The plan's builds when the agent's stream does not say (agents deployed before it did). */
        buildsIncluded: number;
        now: Date;
      };
    }
  | {
      type: 'BlockBuilds';
      data: {
        agentId: string;
        userId: string;
        paymentId: string;
        reason: BuildBlockReason;
        now: Date;
      };
    }
  | {
      type: 'StopBuild';
      data: {
        build: number;
        attempt: number;
        sessionId: string | null;
        reason: string;
        now: Date;
      };
    };

/** Codes of the rules an agent command can break; the HTTP layer maps them to statuses. */
export const agentErrors = {
  notFound: 'agent-not-found',
  buildInProgress: 'build-in-progress',
  notBuilding: 'not-building',
  staleAttempt: 'stale-attempt',
  staleSession: 'stale-session',
  /** A refund of the payment was asked for or made: no build may start. */
  buildsBlocked: 'builds-blocked',
  /** Every build the plan includes has been used. */
  buildQuotaExhausted: 'build-quota-exhausted',
  /** Devin would work in a repository that is not under our organisation. */
  foreignRepository: 'foreign-repository',
} as const;

type Decided = AgentEvent[] | DomainError;

/**
 * A deploy for a payment that already has its agent changes nothing: one payment, one agent.
 * The repository is checked here, not only where the request was parsed: whatever path a deploy
 * comes by, Devin is never sent to a repository outside our organisation.
 */
function requestDeploy(
  command: Extract<AgentCommand, { type: 'RequestDeploy' }>,
  state: AgentState,
): Decided {
  if (state.exists) return [];
  const { now, repositoryOwner, ...data } = command.data;
  if (state.blockedBy) return blocked(state.blockedBy);
  if (!isOurRepository(data.repository, repositoryOwner)) {
    return domainError(
      agentErrors.foreignRepository,
      `repository ${data.repository} is not under ${repositoryOwner}`,
    );
  }
  return [
    { type: agentEvents.deployRequested.type, data: { ...data, requestedAt: now.toISOString() } },
  ];
}

function startSession(
  command: Extract<AgentCommand, { type: 'StartSession' }>,
  state: AgentState,
): Decided {
  const { build, attempt, sessionId, sessionUrl, now } = command.data;
  if (!state.exists) return notFound();
  if (state.session?.id === sessionId) return [];
  if (!isActive(state)) return domainError(agentErrors.notBuilding, `agent is ${state.status}`);
  if (state.blockedBy) return blocked(state.blockedBy);
  if (state.session) {
    return domainError(agentErrors.staleAttempt, `session ${state.session.id} is already building`);
  }
  if (build !== state.build || attempt !== state.attempt) {
    return domainError(
      agentErrors.staleAttempt,
      `build ${build} attempt ${attempt} is not the agent's next (build ${state.build} attempt ${state.attempt})`,
    );
  }
  return [
    {
      type: agentEvents.sessionStarted.type,
      data: {
        agentId: state.agentId,
        userId: state.userId,
        sessionId,
        sessionUrl,
        attempt,
        build,
        startedAt: now.toISOString(),
      },
    },
  ];
}

function recordProgress(
  command: Extract<AgentCommand, { type: 'RecordProgress' }>,
  state: AgentState,
): Decided {
  const { sessionId, status, lines, followUpsSent, now } = command.data;
  const current = currentSession(state, sessionId);
  if (isDomainError(current)) return current;
  const { session } = current;
  if (lines.length === 0 && status === session.status && followUpsSent === session.followUpsSent)
    return [];
  return [
    {
      type: agentEvents.buildProgressed.type,
      data: {
        agentId: current.agentId,
        sessionId,
        status,
        lines,
        followUpsSent,
        at: now.toISOString(),
      },
    },
  ];
}

function completeBuild(
  command: Extract<AgentCommand, { type: 'CompleteBuild' }>,
  state: AgentState,
): Decided {
  const { sessionId, pullRequestUrl, structuredOutput, now } = command.data;
  const current = currentSession(state, sessionId);
  if (isDomainError(current)) return current;
  return [
    {
      type: agentEvents.deployed.type,
      data: {
        agentId: current.agentId,
        userId: current.userId,
        paymentId: current.paymentId,
        sessionId,
        repository: current.repository,
        pullRequestUrl,
        structuredOutput,
        build: current.build,
        deployedAt: now.toISOString(),
      },
    },
  ];
}

function failBuild(
  command: Extract<AgentCommand, { type: 'FailBuild' }>,
  state: AgentState,
): Decided {
  const { build, attempt, sessionId, reason, maxAttempts, now } = command.data;
  const agent = currentAttempt(state, build, attempt, sessionId);
  if (isDomainError(agent)) return agent;
  return [
    {
      type: agentEvents.deployFailed.type,
      data: {
        agentId: agent.agentId,
        userId: agent.userId,
        paymentId: agent.paymentId,
        sessionId,
        reason,
        attempt,
        build,
        final: attempt >= maxAttempts,
        failedAt: now.toISOString(),
      },
    },
  ];
}

/**
 * Another user's agent is "not found": its existence is not theirs to learn. Each build spends
 * Devin time the plan paid for, so the plan's builds (the first deploy counting as one) are all
 * there is, and none once the payment is being refunded; an operator is held to the same.
 */
function requestRebuild(
  command: Extract<AgentCommand, { type: 'RequestRebuild' }>,
  state: AgentState,
): Decided {
  const { userId, admin, instructions, now } = command.data;
  if (!state.exists || (!admin && state.userId !== userId)) return notFound();
  if (state.blockedBy) return blocked(state.blockedBy);
  if (isActive(state)) {
    return domainError(
      agentErrors.buildInProgress,
      `build ${state.build} is still ${state.status}`,
    );
  }
  const included = state.buildsIncluded ?? command.data.buildsIncluded;
  if (state.build >= included) {
    return domainError(
      agentErrors.buildQuotaExhausted,
      `the ${state.plan} plan includes ${included} build${included === 1 ? '' : 's'}, the first deploy included, and ${state.build} ${state.build === 1 ? 'has' : 'have'} run`,
    );
  }
  return [
    {
      type: agentEvents.rebuildRequested.type,
      data: {
        agentId: state.agentId,
        userId: state.userId,
        instructions: instructions ?? state.instructions,
        build: state.build + 1,
        requestedAt: now.toISOString(),
      },
    },
  ];
}

/** Recorded once, whether or not the agent exists yet: what matters is that nothing follows. */
function blockBuilds(
  command: Extract<AgentCommand, { type: 'BlockBuilds' }>,
  state: AgentState,
): Decided {
  if (state.blockedBy) return [];
  const { agentId, userId, paymentId, reason, now } = command.data;
  return [
    {
      type: agentEvents.buildsBlocked.type,
      data: { agentId, userId, paymentId, reason, at: now.toISOString() },
    },
  ];
}

/** Ends the build under way for good, by our own decision: no retry, no refund asked for. */
function stopBuild(
  command: Extract<AgentCommand, { type: 'StopBuild' }>,
  state: AgentState,
): Decided {
  const { build, attempt, sessionId, reason, now } = command.data;
  const agent = currentAttempt(state, build, attempt, sessionId);
  if (isDomainError(agent)) return agent;
  return [
    {
      type: agentEvents.buildStopped.type,
      data: {
        agentId: agent.agentId,
        userId: agent.userId,
        paymentId: agent.paymentId,
        sessionId,
        reason,
        attempt,
        build,
        stoppedAt: now.toISOString(),
      },
    },
  ];
}

export function decideAgent(command: AgentCommand, state: AgentState): Decided {
  switch (command.type) {
    case 'RequestDeploy':
      return requestDeploy(command, state);
    case 'StartSession':
      return startSession(command, state);
    case 'RecordProgress':
      return recordProgress(command, state);
    case 'CompleteBuild':
      return completeBuild(command, state);
    case 'FailBuild':
      return failBuild(command, state);
    case 'RequestRebuild':
      return requestRebuild(command, state);
    case 'BlockBuilds':
      return blockBuilds(command, state);
    case 'StopBuild':
      return stopBuild(command, state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown command ${JSON.stringify(unknown)}`);
    }
  }
}

export const agentDecider: Decider<AgentCommand, AgentEvent, AgentState> = {
  initialState: initialAgentState,
  evolve: evolveAgent,
  decide: decideAgent,
};

/** A failure or a stop speaks of one attempt: refused unless it is the one under way. */
function currentAttempt(
  state: AgentState,
  build: number,
  attempt: number,
  sessionId: string | null,
): Agent | DomainError {
  if (!state.exists) return notFound();
  if (!isActive(state)) return domainError(agentErrors.notBuilding, `agent is ${state.status}`);
  if (build !== state.build || attempt !== state.attempt) {
    return domainError(agentErrors.staleAttempt, `build ${build} attempt ${attempt} is over`);
  }
  if ((state.session?.id ?? null) !== sessionId) {
    return domainError(
      agentErrors.staleSession,
      `session ${sessionId} is not the agent's current one`,
    );
  }
  return state;
}

function notFound(): DomainError {
  return domainError(agentErrors.notFound, 'no such agent');
}

const blockReasons: Record<BuildBlockReason, string> = {
  'refund-requested': 'a refund of the payment was requested',
  refunded: 'the payment was refunded',
};

function blocked(reason: BuildBlockReason): DomainError {
  return domainError(agentErrors.buildsBlocked, `no build may start: ${blockReasons[reason]}`);
}

/** Why builds stopped, in words a customer reads in the agent's history. */
export function blockReasonText(reason: BuildBlockReason): string {
  return blockReasons[reason];
}

function currentSession(
  state: AgentState,
  sessionId: string,
): (Agent & { session: NonNullable<Agent['session']> }) | DomainError {
  if (!state.exists) return notFound();
  if (!isActive(state) || state.session?.id !== sessionId) {
    return domainError(agentErrors.staleSession, `session ${sessionId} is not building the agent`);
  }
  return state as Agent & { session: NonNullable<Agent['session']> };
}
