import { type Kysely } from 'kysely';
import { type EventUnion, paymentEvents, queues } from '@meetmatt/contracts';
import {
  type ConsumedEvent,
  type EventStore,
  type HandlerResult,
  Inbox,
  type Logger,
  appendToNewStream,
  isDomainError,
} from '@meetmatt/infra';
import { initialAgentState } from '../domain/agent';
import { decideAgent } from '../domain/agent-decide';
import { agentStreamId } from '../domain/agent-identity';
import { type BrainDb } from '../projections/db';
import { agentCatalog } from './agent-repository';
import { deployCommandFor } from './deploy-request';
import { type PaymentFacts, recordPayment } from './payments';

/**
 * The payment events the brain listens to. `payment.confirmed` deploys; the others only keep
 * the payments read model, so that POST /agents/deploy can tell a payment of the caller's that
 * is not paid (402) from one the brain has never heard of (404).
 */
export const consumedPaymentEvents = [
  paymentEvents.created,
  paymentEvents.confirmed,
  paymentEvents.partiallyPaid,
  paymentEvents.failed,
  paymentEvents.expired,
  paymentEvents.refunded,
  paymentEvents.refundCompleted,
] as const;

export type ConsumedPaymentEvent = ConsumedEvent<EventUnion<typeof consumedPaymentEvents>>;

export interface PaymentEventsDeps {
  db: Kysely<BrainDb>;
  store: EventStore;
  logger: Logger;
  repositoryOwner: string;
  now?: () => Date;
}

/**
 * The handler of `brain-service.payment-events`. The payments read model is written behind the
 * inbox (one transaction with the inbox row); the deploy is appended to the agent's stream with
 * `no_stream`, so a redelivery, or a deploy the user already asked for, ends in a harmless
 * conflict. The append runs whatever the inbox said: a crash between the two must still deploy.
 */
export function paymentEventsHandler(
  deps: PaymentEventsDeps,
): (event: ConsumedPaymentEvent) => Promise<HandlerResult> {
  const inbox = new Inbox(deps.db, queues.brainPaymentEvents);
  const now = deps.now ?? (() => new Date());
  return async (event) => {
    const recorded = await inbox.once(event.id, (trx) => recordPayment(trx, factsOf(event)));
    if (event.type !== paymentEvents.confirmed.type || !event.data.autoDeploy) return recorded;
    const deployed = await requestDeploy(deps, event, now());
    return recorded === 'duplicate' && deployed === 'duplicate' ? 'duplicate' : 'processed';
  };
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
    deps.repositoryOwner,
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
    case paymentEvents.failed.type:
      return { paymentId, userId, status: 'failed' };
    case paymentEvents.expired.type:
      return { paymentId, userId, status: 'expired' };
    case paymentEvents.refunded.type:
    case paymentEvents.refundCompleted.type:
      return { paymentId, userId, status: 'refunded' };
  }
}
