import { paymentEvents } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  type CommandResult,
  EventCatalog,
  type EventStore,
  StateCache,
  handleCommand,
  loadState,
} from '@meetmatt/infra';
import { type NumberAllocated } from '../domain/invoice-counter';
import { type PaymentEvent, type PaymentState } from '../domain/payment';
import { type PaymentCommand, paymentDecider, paymentStreamId } from '../domain/payment-decide';

/** Every event the payment service writes, validated on append and upcast on read. */
export type StoredPaymentEvent = PaymentEvent | NumberAllocated;

export function paymentCatalog(): EventCatalog<StoredPaymentEvent> {
  return new EventCatalog<StoredPaymentEvent>(Object.values(paymentEvents));
}

export type PaymentCommandResult = CommandResult<PaymentEvent, PaymentState>;

/** Runs commands against payment streams, through the one `handleCommand`. */
export class PaymentCommands {
  /**
   * The latest state of recently used payments, so the next IPN of a payment decides without
   * reading its stream again (see StateCache and handleCommand for why a stale entry is safe).
   * Only payments that exist are remembered.
   */
  private readonly recent: StateCache<PaymentState>;
  private readonly payments: EventCatalog<PaymentEvent>;

  constructor(
    readonly store: EventStore,
    readonly catalog: EventCatalog<StoredPaymentEvent>,
    cacheSize = 2_000,
  ) {
    this.recent = new StateCache({ size: cacheSize, keep: (state) => state.exists });
    this.payments = catalog as unknown as EventCatalog<PaymentEvent>;
  }

  /**
   * Load, fold, decide, append with the revision read; on a conflict, again on the new state.
   * Every event of a payment's stream is stamped with its owner as the metadata's `userId` (the
   * user it concerns), whoever caused it: the user, NOWPayments, an operator or a policy. A
   * payment is one journey: events appended to an existing stream keep the correlation id of
   * its first event, and the unit of work that caused them (an IPN's request, a poll, an
   * operator's command) becomes their causation id.
   */
  execute(
    paymentId: string,
    command: PaymentCommand,
    metadata?: Partial<CausalMetadata>,
  ): Promise<PaymentCommandResult> {
    return handleCommand({
      store: this.store,
      catalog: this.payments,
      decider: paymentDecider,
      streamId: paymentStreamId(paymentId),
      command,
      ...(metadata ? { metadata } : {}),
      stamp: (cause, { state, correlationId }) => ({
        ...cause,
        correlationId: correlationId ?? cause.correlationId,
        ...(state.exists ? { userId: state.userId } : {}),
      }),
      cache: this.recent,
    });
  }

  /**
   * The payment as last seen: from the cache when it is there (so possibly missing events
   * appended by another instance), otherwise read from its stream.
   */
  async current(paymentId: string): Promise<PaymentState> {
    const streamId = paymentStreamId(paymentId);
    const cached = this.recent.get(streamId);
    if (cached) return cached.state;
    const loaded = await loadState(this.store, this.payments, paymentDecider, streamId);
    this.recent.remember(streamId, loaded);
    return loaded.state;
  }
}

/** Now, as events carry it. */
export function nowIso(): string {
  return new Date().toISOString();
}
