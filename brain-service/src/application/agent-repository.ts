import { agentEvents } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  type CommandResult,
  EventCatalog,
  type EventStore,
  type LoadedStream,
  handleCommand,
  loadState,
} from '@meetmatt/infra';
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

/** An agent's state, revision, journey (correlation id) and last event id. */
export type LoadedAgent = Omit<LoadedStream<AgentEvent, AgentState>, 'events'>;

/** Agents in the event store: one stream `agent-<id>` each, folded by the agent decider. */
export class AgentRepository {
  constructor(private readonly store: EventStore) {}

  async load(agentId: string): Promise<LoadedAgent> {
    const { state, revision, correlationId, lastEventId } = await loadState(
      this.store,
      agentCatalog,
      agentDecider,
      agentStreamId(agentId),
    );
    return { state, revision, correlationId, lastEventId };
  }

  /**
   * Load, decide, append at the revision read (retried on a conflict). Correlation and causation
   * not given come from the request or message being handled.
   */
  execute(
    agentId: string,
    command: AgentCommand,
    metadata: Partial<CausalMetadata> & { userId: string },
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
