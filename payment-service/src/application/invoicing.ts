import { paymentEventTypes } from '@meetmatt/contracts';
import {
  type CachedState,
  type CausalMetadata,
  type CheckpointStore,
  type Decider,
  type EventCatalog,
  type EventStore,
  LeaderLock,
  type Logger,
  type Position,
  type RecordedEvent,
  START,
  backoffDelay,
  handleCommand,
  requestContext,
  sleep,
} from '@meetmatt/infra';
import {
  type AllocateInvoiceNumbers,
  type CounterView as CounterState,
  type InvoiceNumberAllocated,
  decideAllocation,
  formatInvoiceNumber,
  invoiceCounterStreamId,
} from '../domain/invoice-counter';
import { type PaymentConfirmed } from '../domain/payment';
import { type PaymentCommands, nowIso } from './payment-commands';

export type IssueOutcome =
  | { kind: 'issued'; invoiceNumber: string }
  | { kind: 'already-issued'; invoiceNumber: string }
  | { kind: 'refused'; reason: string };

/** A confirmation to invoice: the payment's `payment.confirmed`, and when it was stored. */
export interface Confirmation {
  confirmed: PaymentConfirmed['data'];
  /** Numbers taken for the payment can only be younger than this. */
  recordedAt: Date;
  metadata: CausalMetadata;
}

/**
 * A year's counter as a decider: its state is what `readCounter` knows (the last number, and
 * the numbers the payments asked about took), and each allocation adds one.
 */
const counterDecider: Decider<AllocateInvoiceNumbers, InvoiceNumberAllocated, CounterState> = {
  initialState: () => ({ lastSequence: 0, allocated: new Map() }),
  evolve: (counter, { data }) => ({
    lastSequence: data.sequence,
    allocated: new Map(counter.allocated).set(data.paymentId, data.sequence),
  }),
  decide: decideAllocation,
};

/** How far back from a confirmation a retry looks for a number the payment already took. */
const LOOKBACK_SLACK_MS = 10 * 60_000;
const PAGE = 200;
const MAX_ATTEMPTS = 50;
/** Allocations a counter's view remembers; older confirmations are looked up in the stream. */
const COUNTER_VIEW_SIZE = 50_000;

/**
 * Issues the invoices of confirmed payments with gapless numbers per year:
 *  1. a payment that already has its invoice is done (a retry, a replay);
 *  2. numbers are taken from `invoice-counter-<year>` in one append, with the counter's revision
 *     as the expected one (another issuer at the same time: one wins, the other reads again and
 *     takes the next numbers); each allocation names its payment, so a retry after a crash finds
 *     the number the payment already took instead of taking another;
 *  3. `payment.invoice-issued` is appended to each payment's stream with its revision.
 * Every number taken is issued to the payment it names, so the sequence has no gaps.
 */
export class InvoiceIssuer {
  private readonly counters = new Map<string, CounterView>();

  constructor(
    private readonly store: EventStore,
    private readonly commands: PaymentCommands,
  ) {}

  get catalog() {
    return this.commands.catalog;
  }

  /** One confirmation: see `issueAll`. */
  async issue(
    confirmed: PaymentConfirmed['data'],
    recordedAt: Date,
    metadata: CausalMetadata,
  ): Promise<IssueOutcome> {
    const [outcome] = await this.issueAll([{ confirmed, recordedAt, metadata }]);
    return outcome!;
  }

  /** Invoices each confirmation (outcomes in the same order), numbering them in that order. */
  async issueAll(confirmations: readonly Confirmation[]): Promise<IssueOutcome[]> {
    const outcomes = new Map<string, IssueOutcome>();
    const pending: Confirmation[] = [];
    for (const c of confirmations) {
      // A cached state may lack an invoice issued elsewhere; then the allocation finds the
      // number that payment took and issuing it again changes nothing.
      const state = await this.commands.current(c.confirmed.paymentId);
      if (state.exists && state.invoiceNumber !== null) {
        outcomes.set(c.confirmed.paymentId, {
          kind: 'already-issued',
          invoiceNumber: state.invoiceNumber,
        });
      } else pending.push(c);
    }
    // The year of the confirmation, not of this attempt: a retry must pick the same counter.
    const byYear = new Map<number, Confirmation[]>();
    for (const c of pending) {
      const year = new Date(c.confirmed.confirmedAt).getUTCFullYear();
      byYear.set(year, [...(byYear.get(year) ?? []), c]);
    }
    for (const [year, group] of byYear) {
      const numbers = await this.allocate(year, group);
      for (const c of group) {
        const { paymentId } = c.confirmed;
        if (outcomes.has(paymentId)) continue;
        const invoiceNumber = formatInvoiceNumber(year, numbers.get(paymentId)!);
        outcomes.set(paymentId, await this.issueNumber(paymentId, invoiceNumber, c.metadata));
      }
    }
    return confirmations.map((c) => outcomes.get(c.confirmed.paymentId)!);
  }

  private async issueNumber(
    paymentId: string,
    invoiceNumber: string,
    metadata: CausalMetadata,
  ): Promise<IssueOutcome> {
    const result = await this.commands.execute(
      paymentId,
      { type: 'IssueInvoice', invoiceNumber, now: nowIso() },
      metadata,
    );
    if (!result.ok) {
      if (result.error.code === 'invoice-already-issued' && result.state.exists) {
        return { kind: 'already-issued', invoiceNumber: result.state.invoiceNumber ?? '' };
      }
      return { kind: 'refused', reason: `${result.error.code}: ${result.error.message}` };
    }
    return result.events.length > 0
      ? { kind: 'issued', invoiceNumber }
      : { kind: 'already-issued', invoiceNumber };
  }

  /** Each payment's number in the year's counter, taking the next ones for those without. */
  private async allocate(
    year: number,
    group: readonly Confirmation[],
  ): Promise<Map<string, number>> {
    const paymentIds = group.map((c) => c.confirmed.paymentId);
    const notBefore = Math.min(...group.map((c) => c.recordedAt.getTime()));
    const causes = new Map(group.map((c) => [c.confirmed.paymentId, c.metadata]));
    // Another issuer taking numbers at the same time: read the counter again and take the next.
    const result = await handleCommand({
      store: this.store,
      catalog: this.commands.catalog as unknown as EventCatalog<InvoiceNumberAllocated>,
      decider: counterDecider,
      streamId: invoiceCounterStreamId(year),
      command: { type: 'AllocateInvoiceNumbers', year, paymentIds },
      load: (streamId) => this.readCounter(streamId, new Set(paymentIds), notBefore),
      // Each number is caused by its payment's confirmation.
      stamp: (_, __, event) => causes.get(event.data.paymentId)!,
      maxAttempts: MAX_ATTEMPTS,
    });
    if (!result.ok) throw new Error(`invoice numbers not allocated: ${result.error.message}`);
    return new Map(result.state.allocated);
  }

  /**
   * The counter's last number and revision, and the numbers these payments took if they took
   * any. Served from the view of the counter kept here, brought up to date by reading forwards
   * from its revision (usually nothing, or what another instance appended); read newest first,
   * only as far back as the confirmations (minus some clock slack), when there is no view yet or
   * it does not reach back far enough (a confirmation replayed long after).
   */
  private async readCounter(
    streamId: string,
    paymentIds: ReadonlySet<string>,
    notBefore: number,
  ): Promise<CachedState<CounterState>> {
    const oldest = notBefore - LOOKBACK_SLACK_MS;
    let view = this.counters.get(streamId);
    if (view && view.coveredFrom <= oldest) await this.catchUp(streamId, view);
    else {
      view = await this.scanBackwards(streamId, oldest);
      this.counters.set(streamId, view);
    }
    const allocated = new Map<string, number>();
    for (const id of paymentIds) {
      const taken = view.byPayment.get(id);
      if (taken) allocated.set(id, taken.sequence);
    }
    return {
      state: { lastSequence: view.lastSequence, allocated },
      revision: view.revision,
      correlationId: undefined,
    };
  }

  private async catchUp(streamId: string, view: CounterView): Promise<void> {
    for (;;) {
      const page = await this.store.readStream(streamId, {
        direction: 'forwards',
        fromRevision: view.revision + 1,
        maxCount: PAGE,
      });
      for (const recorded of page) {
        const event = this.commands.catalog.toDomain(recorded) as InvoiceNumberAllocated;
        view.revision = recorded.revision;
        view.lastSequence = event.data.sequence;
        view.byPayment.set(event.data.paymentId, {
          sequence: event.data.sequence,
          at: recorded.createdAt.getTime(),
        });
      }
      if (page.length < PAGE) break;
    }
    // Bounded: forget the oldest allocations, and say how far back the view still reaches.
    for (const [paymentId, { at }] of view.byPayment) {
      if (view.byPayment.size <= COUNTER_VIEW_SIZE) break;
      view.byPayment.delete(paymentId);
      view.coveredFrom = Math.max(view.coveredFrom, at + 1);
    }
  }

  /** Every allocation from the newest back to `oldest` (or the start), as a view. */
  private async scanBackwards(streamId: string, oldest: number): Promise<CounterView> {
    const newestFirst: { paymentId: string; sequence: number; at: number }[] = [];
    let lastSequence = 0;
    let revision = -1;
    let coveredFrom = Number.NEGATIVE_INFINITY;
    let from: number | 'end' = 'end';
    scan: for (;;) {
      const page = await this.store.readStream(streamId, {
        direction: 'backwards',
        fromRevision: from,
        maxCount: PAGE,
      });
      for (const recorded of page) {
        const event = this.commands.catalog.toDomain(recorded) as InvoiceNumberAllocated;
        const at = recorded.createdAt.getTime();
        if (revision < 0) {
          revision = recorded.revision;
          lastSequence = event.data.sequence;
        }
        newestFirst.push({ paymentId: event.data.paymentId, sequence: event.data.sequence, at });
        if (at < oldest) {
          coveredFrom = oldest;
          break scan;
        }
      }
      const last = page[page.length - 1];
      if (page.length < PAGE || !last || last.revision === 0) break;
      from = last.revision - 1;
    }
    const byPayment = new Map<string, { sequence: number; at: number }>();
    for (const { paymentId, sequence, at } of newestFirst.reverse())
      byPayment.set(paymentId, { sequence, at });
    return { revision, lastSequence, byPayment, coveredFrom };
  }
}

/**
 * What this issuer knows of a year's counter: its last revision and number, and the number each
 * payment took, for every allocation made at or after `coveredFrom` (ms since the epoch).
 */
interface CounterView {
  revision: number;
  lastSequence: number;
  byPayment: Map<string, { sequence: number; at: number }>;
  coveredFrom: number;
}

export interface InvoicePolicyOptions {
  store: EventStore;
  issuer: InvoiceIssuer;
  checkpoints: CheckpointStore;
  /** The service's database: its advisory lock picks the one instance that issues invoices. */
  connectionString: string;
  logger: Logger;
  leaderRetryMs?: number;
}

const NAME = 'invoice-policy';
const CHECKPOINT_INTERVAL_MS = 1_000;

/**
 * Reacts to the service's own `payment.confirmed` events (a checkpointed subscription to its
 * event store, on the one instance holding the lock): each confirmation gets its invoice. A
 * failure stops the subscription, and the lock starts it again from the checkpoint; issuing is
 * idempotent, so an event handled twice still makes one invoice.
 */
export class InvoicePolicy {
  private readonly lock: LeaderLock;
  private running: Promise<void> | undefined;
  private failures = 0;

  constructor(private readonly options: InvoicePolicyOptions) {
    this.lock = new LeaderLock({
      connectionString: options.connectionString,
      key: NAME,
      logger: options.logger,
      retryMs: options.leaderRetryMs ?? 2_000,
    });
  }

  start(): void {
    this.running ??= this.lock.run((signal) => this.lead(signal));
  }

  async stop(): Promise<void> {
    await this.lock.stop();
    await this.running;
  }

  private async lead(signal: AbortSignal): Promise<void> {
    const { store, checkpoints } = this.options;
    const from = (await checkpoints.load(NAME)) ?? START;
    // Stored at most once a second: every append wakes the subscription, and a write per wake
    // would cost a commit per payment event. After a crash the events since the stored
    // checkpoint are handled again, which issuing absorbs (one invoice per payment).
    let pending: Position | undefined;
    let savedAt = 0;
    const checkpoint = async (position: Position, force = false) => {
      pending = position;
      if (!force && Date.now() - savedAt < CHECKPOINT_INTERVAL_MS) return;
      await checkpoints.save(NAME, position);
      savedAt = Date.now();
      if (pending === position) pending = undefined;
    };
    const subscription = store.subscribeToAll({
      from,
      filter: { eventTypes: [paymentEventTypes.confirmed] },
      batchSize: 100,
      onEvents: async (events) => {
        if (signal.aborted) throw new Error('leadership lost');
        await this.handle(events);
        await checkpoint(events[events.length - 1]!.position);
        this.failures = 0;
      },
      onCheckpoint: (position) => checkpoint(position),
    });
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      await Promise.race([subscription.done, aborted]);
    } catch (error) {
      // Wait a little longer after each failure before the lock runs us again.
      this.failures += 1;
      this.options.logger.warn('invoice policy stopped; resuming from its checkpoint', {
        error: (error as Error).message,
        failures: this.failures,
      });
      await sleep(backoffDelay(this.failures, 200, 30_000), signal);
    } finally {
      await subscription.stop();
      if (pending) await checkpoint(pending, true).catch(() => undefined);
    }
  }

  private async handle(events: RecordedEvent[]): Promise<void> {
    const { issuer, logger } = this.options;
    const confirmations: Confirmation[] = events.map((event) => {
      const { correlationId, userId } = event.metadata;
      return {
        confirmed: issuer.catalog.upcast(event) as PaymentConfirmed['data'],
        recordedAt: event.createdAt,
        metadata: { correlationId, causationId: event.id, ...(userId ? { userId } : {}) },
      };
    });
    const outcomes = await issuer.issueAll(confirmations);
    outcomes.forEach((outcome, i) => {
      const { confirmed, metadata } = confirmations[i]!;
      const context = {
        correlationId: metadata.correlationId,
        causationId: metadata.causationId,
      };
      requestContext.run(context, () => {
        const fields = { paymentId: confirmed.paymentId, ...outcome };
        if (outcome.kind === 'issued') logger.info('invoice issued', fields);
        // Not retried: the payment's own history says it cannot have an invoice.
        else if (outcome.kind === 'refused') logger.error('invoice not issued', fields);
      });
    });
  }
}
