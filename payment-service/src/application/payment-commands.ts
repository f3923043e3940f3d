import { randomUUID } from 'node:crypto';
import { paymentEvents } from '@meetmatt/contracts';
import {
  type CausalMetadata,
  type CommandResult,
  EventCatalog,
  type EventStore,
  type LoadedStream,
  WrongExpectedRevisionError,
  isDomainError,
  loadState,
  requestContext,
} from '@meetmatt/infra';
import { type InvoiceNumberAllocated } from '../domain/invoice-counter';
import { type PaymentEvent, type PaymentState } from '../domain/payment';
import { type PaymentCommand, paymentDecider, paymentStreamId } from '../domain/payment-decide';

/** Every event the payment service writes, validated on append and upcast on read. */
export type StoredPaymentEvent = PaymentEvent | InvoiceNumberAllocated;

export function paymentCatalog(): EventCatalog<StoredPaymentEvent> {
  return new EventCatalog<StoredPaymentEvent>(Object.values(paymentEvents));
}

const MAX_ATTEMPTS = 10;

/** A payment's state at a revision, with the correlation id of its journey (its first event). */
type Loaded = Pick<
  LoadedStream<PaymentEvent, PaymentState>,
  'state' | 'revision' | 'correlationId'
>;

export type PaymentCommandResult = CommandResult<PaymentEvent, PaymentState>;

/** Runs commands against payment streams: load, fold, decide, append with the revision read. */
export class PaymentCommands {
  /**
   * The latest state of recently used payments, so the next IPN of a payment decides without
   * reading its stream again. A cached state can only lack events appended elsewhere (another
   * instance): appending with its revision then conflicts and the stream is read again; a
   * refusal decided on a cached state is decided again on a fresh read; and "nothing to do"
   * (a fingerprint, an invoice, a refund already there) is true of any later state too.
   */
  private readonly recent = new Map<string, Loaded>();

  constructor(
    readonly store: EventStore,
    readonly catalog: EventCatalog<StoredPaymentEvent>,
    private readonly cacheSize = 2_000,
  ) {}

  /**
   * Load, fold, decide, append with the revision read; on a conflict, again on the new state.
   * Every event of a payment's stream is stamped with its owner as the metadata's `userId` (the
   * user it concerns), whoever caused it: the user, NOWPayments, an operator or a policy. A
   * payment is one journey: events appended to an existing stream keep the correlation id of
   * its first event, and the unit of work that caused them (an IPN's request, a poll, an
   * operator's command) becomes their causation id.
   */
  async execute(
    paymentId: string,
    command: PaymentCommand,
    metadata: CausalMetadata = causalMetadata(),
  ): Promise<PaymentCommandResult> {
    const streamId = paymentStreamId(paymentId);
    const catalog = this.catalog as unknown as EventCatalog<PaymentEvent>;
    let cached = this.recent.get(streamId);
    for (let attempt = 1; ; attempt++) {
      const { state, revision, correlationId } =
        cached ?? (await loadState(this.store, catalog, paymentDecider, streamId));
      const decided = paymentDecider.decide(command, state);
      if (isDomainError(decided)) {
        if (cached) {
          cached = undefined;
          continue;
        }
        return { ok: false, error: decided, state, revision };
      }
      if (decided.length === 0) {
        this.remember(streamId, { state, revision, correlationId });
        return { ok: true, events: [], state, revision };
      }
      const next = decided.reduce(paymentDecider.evolve, state);
      const owner = next.exists ? next.userId : undefined;
      const journey = correlationId ?? metadata.correlationId;
      const stamped: CausalMetadata = {
        ...metadata,
        correlationId: journey,
        ...(owner ? { userId: owner } : {}),
      };
      try {
        const appended = await this.store.appendToStream(
          streamId,
          decided.map((event) => catalog.toNew(event, stamped)),
          { expectedRevision: revision < 0 ? 'no_stream' : revision },
        );
        this.remember(streamId, {
          state: next,
          revision: appended.nextExpectedRevision,
          correlationId: journey,
        });
        return {
          ok: true,
          events: decided,
          state: next,
          revision: appended.nextExpectedRevision,
          position: appended.position,
        };
      } catch (error) {
        this.recent.delete(streamId);
        cached = undefined;
        // Bursts of IPNs for one payment (duplicates) race each other; each retry re-reads.
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * The payment as last seen: from the cache when it is there (so possibly missing events
   * appended by another instance), otherwise read from its stream.
   */
  async current(paymentId: string): Promise<PaymentState> {
    const streamId = paymentStreamId(paymentId);
    const cached = this.recent.get(streamId);
    if (cached) return cached.state;
    const catalog = this.catalog as unknown as EventCatalog<PaymentEvent>;
    const loaded = await loadState(this.store, catalog, paymentDecider, streamId);
    this.remember(streamId, loaded);
    return loaded.state;
  }

  private remember(streamId: string, loaded: Loaded): void {
    if (!loaded.state.exists || this.cacheSize === 0) return;
    const known = this.recent.get(streamId);
    // Two commands on one payment at once: keep whichever saw more of the stream.
    if (known && known.revision > loaded.revision) return;
    this.recent.delete(streamId);
    const { state, revision, correlationId } = loaded; // not the events loadState also returns
    this.recent.set(streamId, { state, revision, correlationId });
    if (this.recent.size > this.cacheSize) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }
}

/** The causal metadata of the unit of work in progress (an HTTP request, a message). */
export function causalMetadata(userId?: string): CausalMetadata {
  const context = requestContext.get();
  const correlationId = context?.correlationId ?? randomUUID();
  return {
    correlationId,
    causationId: context?.causationId ?? correlationId,
    ...((userId ?? context?.userId) ? { userId: userId ?? context?.userId } : {}),
  };
}

/** Now, as events carry it. */
export function nowIso(): string {
  return new Date().toISOString();
}
