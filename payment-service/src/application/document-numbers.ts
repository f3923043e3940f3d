import {
  type CachedState,
  type CausalMetadata,
  type Decider,
  type EventCatalog,
  type EventStore,
  handleCommand,
} from '@meetmatt/infra';
import {
  type AllocateInvoiceNumbers,
  type CounterView as CounterState,
  type NumberAllocated,
  type NumberSeries,
  decideAllocation,
  numberSeries,
} from '../domain/invoice-counter';
import { type StoredPaymentEvent } from './payment-commands';

/** A payment to number: its id, when what caused the number was stored, and that cause. */
export interface NumberRequest {
  paymentId: string;
  /** Numbers taken for the payment can only be younger than this. */
  recordedAt: Date;
  metadata: CausalMetadata;
}

/**
 * A year's counter as a decider: its state is what `readCounter` knows (the last number, and
 * the numbers the payments asked about took), and each allocation adds one.
 */
const counterDecider: Decider<AllocateInvoiceNumbers, NumberAllocated, CounterState> = {
  initialState: () => ({ lastSequence: 0, allocated: new Map() }),
  evolve: (counter, { data }) => ({
    lastSequence: data.sequence,
    allocated: new Map(counter.allocated).set(data.paymentId, data.sequence),
  }),
  decide: decideAllocation,
};

/** How far back from a request a retry looks for a number the payment already took. */
const LOOKBACK_SLACK_MS = 10 * 60_000;
const PAGE = 200;
const MAX_ATTEMPTS = 50;
/** Allocations a counter's view remembers; older requests are looked up in the stream. */
const COUNTER_VIEW_SIZE = 50_000;

/**
 * Gapless numbers per year for one series of documents (invoices, credit notes): numbers are
 * taken from the year's counter stream in one append, with the counter's revision as the
 * expected one (another numberer at the same time: one wins, the other reads again and takes
 * the next numbers); each allocation names its payment, so a retry after a crash finds the
 * number the payment already took instead of taking another.
 */
export class DocumentNumbers {
  private readonly counters = new Map<string, CounterView>();

  constructor(
    private readonly store: EventStore,
    private readonly catalog: EventCatalog<StoredPaymentEvent>,
    private readonly series: NumberSeries,
  ) {}

  /** Each payment's number (formatted) in the year's counter, taking the next for those without. */
  async allocate(year: number, group: readonly NumberRequest[]): Promise<Map<string, string>> {
    const paymentIds = group.map((r) => r.paymentId);
    const notBefore = Math.min(...group.map((r) => r.recordedAt.getTime()));
    const causes = new Map(group.map((r) => [r.paymentId, r.metadata]));
    const { counterStreamId, format } = numberSeries[this.series];
    const result = await handleCommand({
      store: this.store,
      catalog: this.catalog as unknown as EventCatalog<NumberAllocated>,
      decider: counterDecider,
      streamId: counterStreamId(year),
      command: { type: 'AllocateInvoiceNumbers', series: this.series, year, paymentIds },
      load: (streamId) => this.readCounter(streamId, new Set(paymentIds), notBefore),
      // Each number is caused by what its payment asked it for.
      stamp: (_, __, event) => causes.get(event.data.paymentId)!,
      maxAttempts: MAX_ATTEMPTS,
    });
    if (!result.ok)
      throw new Error(`${this.series} numbers not allocated: ${result.error.message}`);
    return new Map(
      [...result.state.allocated].map(([id, sequence]) => [id, format(year, sequence)]),
    );
  }

  /**
   * The counter's last number and revision, and the numbers these payments took if they took
   * any. Served from the view of the counter kept here, brought up to date by reading forwards
   * from its revision (usually nothing, or what another instance appended); read newest first,
   * only as far back as the requests (minus some clock slack), when there is no view yet or it
   * does not reach back far enough (a request replayed long after).
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
        const event = this.catalog.toDomain(recorded) as NumberAllocated;
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
        const event = this.catalog.toDomain(recorded) as NumberAllocated;
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
 * What this numberer knows of a year's counter: its last revision and number, and the number
 * each payment took, for every allocation made at or after `coveredFrom` (ms since the epoch).
 */
interface CounterView {
  revision: number;
  lastSequence: number;
  byPayment: Map<string, { sequence: number; at: number }>;
  coveredFrom: number;
}
