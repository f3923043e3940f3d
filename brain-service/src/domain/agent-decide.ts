import { type AgentEvent as ContractAgentEvent, agentEvents } from '@meetmatt/contracts';
import { type Decider, type DomainError, domainError, isDomainError } from '@meetmatt/infra';
import {
  type Agent,
  type AgentEvent,
  type AgentState,
  evolveAgent,
  initialAgentState,
  isActive,
} from './agent';

type Data<T extends ContractAgentEvent['type']> = Extract<ContractAgentEvent, { type: T }>['data'];
type BuildLogLine = Data<'agent.build-progressed'>['lines'][number];

export type AgentCommand =
  | {
      type: 'RequestDeploy';
      data: Omit<Data<'agent.deploy-requested'>, 'requestedAt'> & { now: Date };
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
      data: { userId: string; admin: boolean; instructions?: string | undefined; now: Date };
    };

/** Codes of the rules an agent command can break; the HTTP layer maps them to statuses. */
export const agentErrors = {
  notFound: 'agent-not-found',
  buildInProgress: 'build-in-progress',
  notBuilding: 'not-building',
  staleAttempt: 'stale-attempt',
  staleSession: 'stale-session',
} as const;

type Decided = AgentEvent[] | DomainError;

/** A deploy for a payment that already has its agent changes nothing: one payment, one agent. */
function requestDeploy(
  command: Extract<AgentCommand, { type: 'RequestDeploy' }>,
  state: AgentState,
): Decided {
  if (state.exists) return [];
  const { now, ...data } = command.data;
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
  return [
    {
      type: agentEvents.deployFailed.type,
      data: {
        agentId: state.agentId,
        userId: state.userId,
        paymentId: state.paymentId,
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

/** Another user's agent is "not found": its existence is not theirs to learn. */
function requestRebuild(
  command: Extract<AgentCommand, { type: 'RequestRebuild' }>,
  state: AgentState,
): Decided {
  const { userId, admin, instructions, now } = command.data;
  if (!state.exists || (!admin && state.userId !== userId)) return notFound();
  if (isActive(state)) {
    return domainError(
      agentErrors.buildInProgress,
      `build ${state.build} is still ${state.status}`,
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

function notFound(): DomainError {
  return domainError(agentErrors.notFound, 'no such agent');
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
