import {
  type EventUnion,
  type NotificationKind,
  agentEvents,
  paymentEvents,
} from '@meetmatt/contracts';
import { type ConsumedEvent, type HandlerResult, type Inbox } from '@meetmatt/infra';
import { type UsageFactKind, type UserDb } from '../database';
import { wantsNotification } from '../domain/notification';
import { notificationDecider } from '../domain/notification-decide';
import { streams } from '../domain/streams';
import { userDecider } from '../domain/user-decide';
import { loadStream, runCommand } from './user-commands';
import { type UserDependencies } from './dependencies';
import { deterministicUuid } from './secrets';
import { agentMail } from './mails';

/** The payment events the user service takes (queue user-service.payment-events). */
export const consumedPaymentEvents = [
  paymentEvents.created,
  paymentEvents.confirmed,
  paymentEvents.failed,
  paymentEvents.expired,
  paymentEvents.partiallyPaid,
  paymentEvents.underpaid,
  paymentEvents.mismatched,
] as const;

/** The agent events the user service takes (queue user-service.agent-events). */
export const consumedAgentEvents = [
  agentEvents.deployed,
  agentEvents.deployFailed,
  agentEvents.rebuildRequested,
] as const;

type Consumed = ConsumedEvent<
  EventUnion<typeof consumedPaymentEvents> | EventUnion<typeof consumedAgentEvents>
>;

interface Content {
  kind: NotificationKind;
  userId: string;
  title: string;
  body: string;
  link: string | null;
}

/**
 * One payment or agent event: a usage fact, recorded once through the inbox, and a notification
 * for its user if their preferences want one, in a stream whose id the event determines (so a
 * redelivery, or a retry after the inbox already committed, finds it there and adds nothing).
 */
export async function handleBusEvent(
  deps: Pick<UserDependencies, 'catalog' | 'logger' | 'mail' | 'now' | 'store'>,
  inbox: Inbox<UserDb>,
  event: Consumed,
): Promise<HandlerResult> {
  const fact = usageFact(event);
  const recorded = await inbox.once(event.id, async (trx) => {
    if (!fact) return;
    await trx
      .insertInto('usage_facts')
      .values({ event_id: event.id, ...fact, day: event.time.slice(0, 10) })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .execute();
  });
  await notify(deps, event);
  await mailAgentNews(deps, event);
  return recorded;
}

/** Agent news by mail too: queued here, sent (or skipped by preferences) by the mail sender. */
async function mailAgentNews(deps: Pick<UserDependencies, 'mail'>, event: Consumed): Promise<void> {
  const content = notificationContent(event);
  if (!content || (content.kind !== 'agent.deployed' && content.kind !== 'agent.deploy-failed'))
    return;
  await deps.mail.enqueue([agentMail(event.id, { ...content, kind: content.kind })]);
}

async function notify(
  deps: Pick<UserDependencies, 'catalog' | 'logger' | 'now' | 'store'>,
  event: Consumed,
): Promise<void> {
  const content = notificationContent(event);
  if (!content) return;
  const user = await loadStream(deps, userDecider, streams.user(content.userId));
  if (user.state.status !== 'registered') {
    deps.logger.info('notification for an unknown user dropped', {
      userId: content.userId,
      type: event.type,
      eventId: event.id,
    });
    return;
  }
  if (!wantsNotification(user.state.preferences, content.kind)) return;
  const notificationId = deterministicUuid(`notification:${event.id}`);
  const created = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: notificationDecider,
    streamId: streams.notification(notificationId),
    userId: content.userId,
    metadata: { correlationId: event.correlationId, causationId: event.id },
    command: {
      type: 'CreateNotification',
      notificationId,
      ...content,
      correlationId: event.correlationId,
      sourceEventId: event.id,
      now: deps.now().toISOString(),
    },
  });
  if (created.ok && created.appended > 0)
    deps.logger.info('notification created', {
      notificationId,
      userId: content.userId,
      kind: content.kind,
    });
}

function usageFact(
  event: Consumed,
):
  | { user_id: string; kind: UsageFactKind; amount: string | null; currency: string | null }
  | undefined {
  const fact = (
    kind: UsageFactKind,
    amount: number | null = null,
    currency: string | null = null,
  ) => ({
    user_id: event.data.userId,
    kind,
    amount: amount === null ? null : String(amount),
    currency,
  });
  switch (event.type) {
    case 'payment.created':
      return fact('payment.opened');
    case 'payment.confirmed':
      return fact('payment.confirmed', event.data.priceAmount, event.data.priceCurrency);
    case 'payment.failed':
    case 'payment.expired':
    case 'payment.partially-paid':
    case 'payment.underpaid':
    case 'payment.mismatched':
      return fact('payment.failed');
    case 'agent.deployed':
      return fact('agent.deployed');
    case 'agent.deploy-failed':
      return event.data.final ? fact('agent.failed') : undefined;
    case 'agent.rebuild-requested':
      return fact('agent.rebuild');
    default:
      return undefined;
  }
}

/** What the user reads: payment confirmed, failed, expired or short; agent deployed or failed. */
export function notificationContent(event: Consumed): Content | undefined {
  switch (event.type) {
    case 'payment.confirmed': {
      const d = event.data;
      return {
        kind: 'payment.confirmed',
        userId: d.userId,
        title: 'Payment confirmed',
        body: `Your payment of ${money(d.priceAmount, d.priceCurrency)} for "${d.agent.name}" is confirmed.${d.autoDeploy ? ' Your agent is being built.' : ' You can deploy your agent now.'}`,
        link: `/payments/${d.paymentId}`,
      };
    }
    case 'payment.failed':
      return {
        kind: 'payment.failed',
        userId: event.data.userId,
        title: 'Payment failed',
        body: `Your payment did not go through: ${event.data.reason}.`,
        link: `/payments/${event.data.paymentId}`,
      };
    case 'payment.expired':
      return {
        kind: 'payment.expired',
        userId: event.data.userId,
        title: 'Payment expired',
        body: 'No deposit arrived in time for your payment. You can start a new one.',
        link: `/payments/${event.data.paymentId}`,
      };
    case 'payment.partially-paid': {
      const d = event.data;
      return {
        kind: 'payment.partially-paid',
        userId: d.userId,
        title: 'Payment incomplete',
        body: `We received ${d.actuallyPaid ?? 0} of the ${d.payAmount} ${d.payCurrency.toUpperCase()} due. Contact support to settle the rest.`,
        link: `/payments/${d.paymentId}`,
      };
    }
    case 'payment.underpaid': {
      // NOWPayments said finished, but less arrived than asked: the same news as partially paid.
      const d = event.data;
      return {
        kind: 'payment.partially-paid',
        userId: d.userId,
        title: 'Payment incomplete',
        body: `We received ${cryptoAmount(d.actuallyPaid)} of the ${cryptoAmount(d.payAmount)} ${d.payCurrency.toUpperCase()} due, so your payment is not confirmed and nothing is built yet. Send the remaining ${cryptoAmount(d.shortfall)} ${d.payCurrency.toUpperCase()} to the same address, or contact support.`,
        link: `/payments/${d.paymentId}`,
      };
    }
    case 'payment.mismatched':
      return {
        kind: 'payment.failed',
        userId: event.data.userId,
        title: 'Payment not accepted',
        body: `Your payment did not match what was asked (${event.data.mismatches.map((m) => m.field).join(', ')}), so it is not confirmed and nothing is built. Contact support to settle it.`,
        link: `/payments/${event.data.paymentId}`,
      };
    case 'agent.deployed': {
      const d = event.data;
      return {
        kind: 'agent.deployed',
        userId: d.userId,
        title: 'Agent deployed',
        body: `Your agent is deployed in ${d.repository}.${d.pullRequestUrl ? ` Pull request: ${d.pullRequestUrl}` : ''}`,
        link: `/agents/${d.agentId}`,
      };
    }
    case 'agent.deploy-failed': {
      const d = event.data;
      if (!d.final) return undefined;
      return {
        kind: 'agent.deploy-failed',
        userId: d.userId,
        title: 'Agent deployment failed',
        body: `We could not build your agent: ${d.reason}.`,
        link: `/agents/${d.agentId}`,
      };
    }
    default:
      return undefined;
  }
}

function money(amount: number, currency: string): string {
  return `${amount} ${currency.toUpperCase()}`;
}

/** A crypto amount without the float noise of a subtraction (0.0007920000000000001). */
function cryptoAmount(amount: number): string {
  return String(Number(amount.toPrecision(10)));
}
