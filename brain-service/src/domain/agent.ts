import {
  type AgentEvent,
  type AgentStatus,
  type BuildBlockReason,
  agentEvents,
} from '@meetmatt/contracts';

export { type AgentEvent, type BuildBlockReason };

/** The Devin session building the agent right now. */
export interface CurrentSession {
  id: string;
  url: string;
  startedAt: string;
  /** The last status recorded (`status_enum`, else `status`); null before the first poll. */
  status: string | null;
  /** Devin messages already recorded as build log lines (the next poll logs the ones after). */
  messagesSeen: number;
  followUpsSent: number;
}

export interface Agent {
  exists: true;
  agentId: string;
  userId: string;
  paymentId: string;
  plan: string;
  name: string;
  slug: string;
  /** The instructions of the current (or last) build. */
  instructions: string;
  repository: string;
  /** The Devin budget the payment carried; null: the configured one for the plan. */
  maxAcuLimit: number | null;
  /** Builds the plan pays for, the first deploy included; null: the configured one for the plan. */
  buildsIncluded: number | null;
  /** Why no build may start any more (the payment is being refunded); null: builds may start. */
  blockedBy: BuildBlockReason | null;
  status: AgentStatus;
  /** 1 for the first deploy, +1 per rebuild. */
  build: number;
  /** The attempt of the running session, or of the next one when none runs. */
  attempt: number;
  session: CurrentSession | null;
  requestedAt: string;
}

/**
 * No agent yet. A refund can arrive before any deploy (the user had not deployed yet, or the
 * refund overtook the confirmation): it is recorded all the same, so no deploy can follow it.
 */
export interface NoAgent {
  exists: false;
  blockedBy: BuildBlockReason | null;
}

export type AgentState = NoAgent | Agent;

export const initialAgentState = (): AgentState => ({ exists: false, blockedBy: null });

/** Waiting for a Devin session to be created: the build's next attempt has none yet. */
export function needsSession(state: AgentState): boolean {
  return state.exists && isActive(state) && state.session === null && state.blockedBy === null;
}

/** Requested or building: the tracker has work to do for it. */
export function isActive(state: AgentState): boolean {
  return state.exists && (state.status === 'requested' || state.status === 'building');
}

export function evolveAgent(state: AgentState, event: AgentEvent): AgentState {
  if (event.type === agentEvents.deployRequested.type) {
    const d = event.data;
    return {
      exists: true,
      agentId: d.agentId,
      userId: d.userId,
      paymentId: d.paymentId,
      plan: d.plan,
      name: d.name,
      slug: d.slug,
      instructions: d.instructions,
      repository: d.repository,
      maxAcuLimit: d.maxAcuLimit ?? null,
      buildsIncluded: d.buildsIncluded ?? null,
      blockedBy: state.blockedBy,
      status: 'requested',
      build: 1,
      attempt: 1,
      session: null,
      requestedAt: d.requestedAt,
    };
  }
  if (event.type === agentEvents.buildsBlocked.type)
    return { ...state, blockedBy: state.blockedBy ?? event.data.reason };
  if (!state.exists) return state;
  switch (event.type) {
    case agentEvents.sessionStarted.type:
      return {
        ...state,
        status: 'building',
        build: event.data.build,
        attempt: event.data.attempt,
        session: {
          id: event.data.sessionId,
          url: event.data.sessionUrl,
          startedAt: event.data.startedAt,
          status: null,
          messagesSeen: 0,
          followUpsSent: 0,
        },
      };
    case agentEvents.buildProgressed.type: {
      const session = state.session;
      if (!session || session.id !== event.data.sessionId) return state;
      const messages = event.data.lines.filter((line) => line.kind !== STATUS_LINE).length;
      return {
        ...state,
        session: {
          ...session,
          status: event.data.status,
          messagesSeen: session.messagesSeen + messages,
          followUpsSent: event.data.followUpsSent,
        },
      };
    }
    case agentEvents.deployed.type:
      return { ...state, status: 'deployed', session: null };
    case agentEvents.deployFailed.type:
      return event.data.final
        ? { ...state, status: 'failed', session: null }
        : { ...state, status: 'building', session: null, attempt: event.data.attempt + 1 };
    case agentEvents.buildStopped.type:
      return { ...state, status: 'failed', session: null };
    case agentEvents.rebuildRequested.type:
      return {
        ...state,
        status: 'building',
        build: event.data.build,
        attempt: 1,
        session: null,
        instructions: event.data.instructions,
      };
    default:
      return state;
  }
}

/** The `kind` of a build log line that records a status change rather than a Devin message. */
export const STATUS_LINE = 'status';
