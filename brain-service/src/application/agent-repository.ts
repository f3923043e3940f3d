import { agentEvents } from '@meetmatt/contracts';
import { type CommandResult, EventCatalog, type EventStore, handleCommand } from '@meetmatt/infra';
import { type AgentEvent, type AgentState } from '../domain/agent';
import { type AgentCommand, agentDecider } from '../domain/agent-decide';
import { agentStreamId } from '../domain/agent-identity';

export const agentCatalog = new EventCatalog<AgentEvent>(Object.values(agentEvents));

/** The causal metadata of the events an agent command appends. */
export type EventContext = {
  correlationId: string;
  causationId: string;
  userId: string;
};

export interface LoadedAgent {
  state: AgentState;
  revision: number;
  /** The journey the agent belongs to (its first event's), for the events the tracker records. */
  correlationId: string | undefined;
  /** The id of the agent's last event: the cause of what the tracker records next. */
  lastEventId: string | undefined;
}

/** Agents in the event store: one stream `agent-<id>` each, folded by the agent decider. */
export class AgentRepository {
  constructor(private readonly store: EventStore) {}

  async load(agentId: string): Promise<LoadedAgent> {
    const recorded = await this.store.readStream(agentStreamId(agentId));
    const state = recorded
      .map((r) => agentCatalog.toDomain(r))
      .reduce(agentDecider.evolve, agentDecider.initialState());
    const last = recorded[recorded.length - 1];
    return {
      state,
      revision: last ? last.revision : -1,
      correlationId: recorded[0]?.metadata.correlationId,
      lastEventId: last?.id,
    };
  }

  /** Load, decide, append at the revision read (retried on a conflict). */
  execute(
    agentId: string,
    command: AgentCommand,
    metadata: EventContext,
  ): Promise<CommandResult<AgentEvent, AgentState>> {
    return handleCommand({
      store: this.store,
      catalog: agentCatalog,
      decider: agentDecider,
      streamId: agentStreamId(agentId),
      command,
      metadata,
    });
  }
}
