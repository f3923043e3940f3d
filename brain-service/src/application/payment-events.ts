import { type Kysely } from 'kysely';
import { type EventUnion, paymentEvents, queues } from '@meetmatt/contracts';
import {
  type ConsumedEvent,
  type EventStore,
  type HandlerResult,
  type Logger,
  appendToNewStream,
  isDomainError,
} from '@meetmatt/infra';
import { type BuildBlockReason, initialAgentState } from '../domain/agent';
import { decideAgent } from '../domain/agent-decide';
import { agentIdFor, agentStreamId } from '../domain/agent-identity';
import { type BrainDb } from '../database';
import { AgentRepository, agentCatalog } from './agent-repository';
import { type BuildPolicy, deployCommandFor } from './deploy-request';
import { type PaymentFacts, recordPaymentOnce } from './payments';

/**
 * The payment events the brain listens to. `payment.confirmed` deploys; a refund asked for or
 * made blocks every build of the payment's agent; the others only keep the payments read model,
 * so that POST /agents/deploy can tell a payment of the caller's that is not paid (402) from one
 * the brain has never heard of (404).
 */
export const consumedPaymentEvents = [
  paymentEvents.created,
  paymentEvents.confirmed,
  paymentEvents.partiallyPaid,
  paymentEvents.underpaid,
  paymentEvents.mismatched,
  paymentEvents.failed,
  paymentEvents.expired,
  paymentEvents.refundRequested,
  paymentEvents.refunded,
  paymentEvents.refundCompleted,
] as const;

export type ConsumedPaymentEvent = ConsumedEvent<EventUnion<typeof consumedPaymentEvents>>;

export interface PaymentEventsDeps {
  db: Kysely<BrainDb>;
  store: EventStore;
  logger: Logger;
  policy: BuildPolicy;
  now?: () => Date;
}

/**
 * The handler of `brain-service.payment-events`. The payments read model is written behind the
 * inbox (one statement with the inbox row, `recordPaymentOnce`); the deploy is appended to the agent's stream with
 * `no_stream`, so a redelivery, or a deploy the user already asked for, ends in a harmless
 * conflict. The append runs whatever the inbox said (beside its statement, not after it: the
 * deploy request is the end of the paid-to-building hop), so a crash between the two still deploys.
 * A refund is recorded in the agent's stream likewise, creating it when no deploy came first,
 * so that a deploy arriving after it (redelivered, or out of order) finds the stream taken.
 */
export function paymentEventsHandler(
  deps: PaymentEventsDeps,
): (event: ConsumedPaymentEvent) => Promise<HandlerResult> {
  const record = (event: ConsumedPaymentEvent) =>
    recordPaymentOnce(deps.db, queues.brainPaymentEvents, event.id, factsOf(event));
  const agents = new AgentRepository(deps.store);
  const now = deps.now ?? (() => new Date());
  return async (event) => {
    if (event.type === paymentEvents.confirmed.type && event.data.autoDeploy) {
      // The deploy request is the hop's end and needs nothing the read model holds: it is
      // appended beside the inbox statement, not after it. Each is idempotent on its own
      // (the inbox row, the agent's new stream), so a failure of either retries both safely.
      const [recorded, deployed] = await Promise.all([
        record(event),
        requestDeploy(deps, event, now()),
      ]);
      return recorded === 'duplicate' && deployed === 'duplicate' ? 'duplicate' : 'processed';
    }
    const recorded = await record(event);
    const block = blockReasonOf(event);
    if (block) {
      const blocked = await blockBuilds(deps, agents, event, block, now());
      return recorded === 'duplicate' && blocked === 'duplicate' ? 'duplicate' : 'processed';
    }
    return recorded;
  };
}

function blockReasonOf(event: ConsumedPaymentEvent): BuildBlockReason | null {
  switch (event.type) {
    case paymentEvents.refundRequested.type:
      return 'refund-requested';
    case paymentEvents.refunded.type:
    case paymentEvents.refundCompleted.type:
      return 'refunded';
    default:
      return null;
  }
}

async function blockBuilds(
  deps: PaymentEventsDeps,
  agents: AgentRepository,
  event: ConsumedPaymentEvent,
  reason: BuildBlockReason,
  now: Date,
): Promise<'processed' | 'duplicate'> {
  const { paymentId, userId } = event.data;
  const agentId = agentIdFor(paymentId);
  const result = await agents.execute(
    agentId,
    { type: 'BlockBuilds', data: { agentId, userId, paymentId, reason, now } },
    { correlationId: event.correlationId, causationId: event.id, userId },
  );
  if (!result.ok) throw new Error(`builds not blocked: ${result.error.message}`);
  if (result.events.length === 0) return 'duplicate';
  deps.logger.info('agent builds blocked', {
    agentId,
    paymentId,
    reason,
    correlationId: event.correlationId,
  });
  return 'processed';
}

async function requestDeploy(
  deps: PaymentEventsDeps,
  event: Extract<ConsumedPaymentEvent, { type: typeof paymentEvents.confirmed.type }>,
  now: Date,
): Promise<'processed' | 'duplicate'> {
  const { paymentId, userId, plan, agent, maxAcuLimit } = event.data;
  const command = deployCommandFor(
    { paymentId, userId, plan, agent, maxAcuLimit },
    'payment',
    deps.policy,
    now,
  );
  const decided = decideAgent(command, initialAgentState());
  if (isDomainError(decided)) throw new Error(`deploy refused: ${decided.message}`);
  const metadata = { correlationId: event.correlationId, causationId: event.id, userId };
  const outcome = await appendToNewStream(
    deps.store,
    agentStreamId(command.data.agentId),
    decided.map((e) => agentCatalog.toNew(e, metadata)),
  );
  deps.logger.info(
    outcome === 'processed' ? 'agent deploy requested on payment' : 'agent already requested',
    { agentId: command.data.agentId, paymentId, correlationId: event.correlationId },
  );
  return outcome;
}

function factsOf(event: ConsumedPaymentEvent): PaymentFacts {
  const { paymentId, userId } = event.data;
  switch (event.type) {
    case paymentEvents.created.type:
      return {
        paymentId,
        userId,
        status: 'pending',
        plan: event.data.plan,
        agent: event.data.agent,
        autoDeploy: event.data.autoDeploy,
        maxAcuLimit: event.data.maxAcuLimit,
      };
    case paymentEvents.confirmed.type:
      return {
        paymentId,
        userId,
        status: 'confirmed',
        plan: event.data.plan,
        agent: event.data.agent,
        autoDeploy: event.data.autoDeploy,
        maxAcuLimit: event.data.maxAcuLimit,
        confirmedAt: event.data.confirmedAt,
      };
    case paymentEvents.partiallyPaid.type:
      return { paymentId, userId, status: 'partially_paid' };
    case paymentEvents.underpaid.type:
      return { paymentId, userId, status: 'underpaid' };
    case paymentEvents.mismatched.type:
      return { paymentId, userId, status: 'mismatched' };
    case paymentEvents.refundRequested.type:
      return { paymentId, userId, status: 'refund_requested' };
    case paymentEvents.failed.type:
      return { paymentId, userId, status: 'failed' };
    case paymentEvents.expired.type:
      return { paymentId, userId, status: 'expired' };
    case paymentEvents.refunded.type:
    case paymentEvents.refundCompleted.type:
      return { paymentId, userId, status: 'refunded' };
  }
}
