import { agentEvents } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  type CommandResult,
  EventCatalog,
  type EventStore,
  FoldedStreams,
  type LoadedStream,
  handleCommand,
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

/**
 * Agents in the event store: one stream `agent-<id>` each, folded by the agent decider. Reads
 * and commands fold only the events after the revision last read (`FoldedStreams`): a build
 * worker reads its agent on every poll, and the stream grows while the build runs.
 */
export class AgentRepository {
  private readonly streams: FoldedStreams<AgentEvent, AgentState>;

  constructor(private readonly store: EventStore) {
    this.streams = new FoldedStreams({ store, catalog: agentCatalog, decider: agentDecider });
  }

  load(agentId: string): Promise<LoadedAgent> {
    return this.streams.read(agentStreamId(agentId));
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
      load: (streamId) => this.streams.read(streamId),
    });
  }
}
