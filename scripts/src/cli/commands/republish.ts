import {
  EventPublisher,
  type AllFilter,
  type Position,
  type RecordedEvent,
  START,
  comparePositions,
  formatPosition,
  positionBefore,
} from '@meetmatt/infra';
import { type Invocation } from '../command';
import { CliError, UsageError } from '../errors';
import { counted, describeWhen, eventJson, formatCount, formatTime, parseWhen } from '../format';
import { type Runtime, type ServiceHandle } from '../runtime';
import { parseServiceKey } from '../services';
import { typeFilter } from './shared';

interface Selection {
  handle: ServiceHandle;
  stream: string | undefined;
  filter: AllFilter;
  matches: (type: string) => boolean;
  /** Exclusive. */
  after: Position;
  /** Inclusive; undefined = the head. */
  until: Position | undefined;
  /** `3 payment events of payment-… after …`. */
  describe: (count: number) => string;
}

const PAGE = 500;

/** Reads the selected events page by page, in `$all` order (or the stream's order). */
async function* selected(selection: Selection): AsyncGenerator<RecordedEvent[]> {
  const { handle, stream, matches, until } = selection;
  const inRange = (e: RecordedEvent) =>
    comparePositions(e.position, selection.after) > 0 &&
    (!until || comparePositions(e.position, until) <= 0);
  if (stream) {
    let from = 0;
    for (;;) {
      const page = await handle.store.readStream(stream, { fromRevision: from, maxCount: PAGE });
      const wanted = page.filter((e) => matches(e.type) && inRange(e));
      if (wanted.length > 0) yield wanted;
      if (page.length < PAGE) return;
      from = page[page.length - 1]!.revision + 1;
    }
  }
  let after = selection.after;
  for (;;) {
    const page = await handle.store.readAll({ after, maxCount: PAGE, filter: selection.filter });
    if (page.length === 0) return;
    const wanted = page.filter((e) => matches(e.type) && inRange(e));
    if (wanted.length > 0) yield wanted;
    const last = page[page.length - 1]!;
    if (until && comparePositions(last.position, until) >= 0) return;
    after = last.position;
  }
}

async function boundary(
  handle: ServiceHandle,
  when: Position | Date | undefined,
  fallback: Position | undefined,
) {
  if (when === undefined) return fallback;
  if (!(when instanceof Date)) return when;
  return (await positionBefore(handle.store, when)) ?? (await handle.store.headPosition()) ?? START;
}

export async function republish(
  runtime: Runtime,
  { values, json, yes, dryRun }: Invocation,
): Promise<void> {
  if (values.service === undefined)
    throw new UsageError('republish needs --service <payment|user|brain>');
  if (values.stream !== undefined && values.prefix !== undefined)
    throw new UsageError('--stream and --prefix do not go together');
  const key = parseServiceKey(values.service as string);
  const from = values.from === undefined ? undefined : parseWhen(values.from as string, '--from');
  const to = values.to === undefined ? undefined : parseWhen(values.to as string, '--to');
  const handle = await runtime.service(key);
  const stream = values.stream as string | undefined;
  if (stream && !(await handle.store.streamExists(stream)))
    throw new CliError(`no stream ${JSON.stringify(stream)} in ${key}`);
  const types = typeFilter(values.type as string | undefined);
  const published = handle.info.published;
  const filter: AllFilter = { ...types.filter };
  if (values.prefix !== undefined) filter.streamPrefixes = [values.prefix as string];
  const onBus = (type: string) => !published?.eventTypes || published.eventTypes.includes(type);
  const head = await handle.store.headPosition();
  const selection: Selection = {
    handle,
    stream,
    filter,
    matches: (type) => types.matches(type),
    after: (await boundary(handle, from, START))!,
    until: await boundary(handle, to, head),
    describe: (n: number) =>
      [
        `${formatCount(n)} ${key} event${n === 1 ? '' : 's'}`,
        stream ? `of ${stream}` : values.prefix ? `of streams ${values.prefix as string}*` : '',
        values.type ? `of type ${values.type as string}` : '',
        from ? `after ${describeWhen(from)}` : '',
        to ? `up to ${describeWhen(to)}` : '',
      ]
        .filter(Boolean)
        .join(' '),
  };
  const target = values.queue
    ? `queue ${values.queue as string}`
    : `exchange ${handle.info.exchange}`;

  // Count first (and sample): what --dry-run shows, and what the question names.
  const counts = new Map<string, number>();
  const samples: RecordedEvent[] = [];
  let internal = 0;
  let total = 0;
  for await (const page of selected(selection)) {
    for (const event of page) {
      if (!onBus(event.type)) {
        internal += 1;
        continue;
      }
      total += 1;
      counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
      if (samples.length < 5) samples.push(event);
    }
  }
  const out = runtime.out;
  const summary = {
    service: key,
    target,
    selection: selection.describe(total).replace(/^\S+ /, ''),
    events: total,
    byType: Object.fromEntries([...counts].sort()),
    keptOffTheBus: internal,
  };
  if (dryRun || total === 0) {
    if (json) {
      out.printJson({ dryRun, ...summary, sample: samples.map((e) => eventJson(key, e)) });
      return;
    }
    out.line(
      `${dryRun ? 'would republish' : 'nothing to republish:'} ${selection.describe(total)} to ${target}`,
    );
    if (internal > 0)
      out.line(
        `(${formatCount(internal)} more are kept off the bus by ${handle.info.name} and never sent)`,
      );
    if (total === 0) return;
    out.line();
    out.table(
      [
        { header: 'TYPE', value: (r: [string, number]) => r[0] },
        { header: 'EVENTS', value: (r) => formatCount(r[1]), align: 'right' },
      ],
      [...counts].sort(),
    );
    out.line();
    out.line('sample:');
    out.table(
      [
        { header: 'TIME (UTC)', value: (e: RecordedEvent) => formatTime(e.createdAt) },
        { header: 'STREAM', value: (e) => e.streamId },
        { header: 'TYPE', value: (e) => e.type },
        { header: 'MESSAGE ID', value: (e) => e.id },
      ],
      samples,
    );
    return;
  }
  await out.confirm(`Republish ${selection.describe(total)} to ${target}?`, yes);
  const report = await send(runtime, selection, onBus, total, values.queue as string | undefined);
  if (json) {
    out.printJson({ ...summary, confirmed: report.confirmed, unroutable: report.unroutable });
    return;
  }
  out.line(
    `republished ${selection.describe(report.confirmed)} to ${target}, each confirmed by the broker`,
  );
  if (report.unroutable.length > 0)
    out.line(
      `${formatCount(report.unroutable.length)} of them reached no queue (${values.queue ? 'the queue does not exist' : 'no queue is bound for their type'})`,
    );
}

async function send(
  runtime: Runtime,
  selection: Selection,
  onBus: (type: string) => boolean,
  total: number,
  queue: string | undefined,
): Promise<{ confirmed: number; unroutable: string[] }> {
  const broker = await runtime.broker();
  const { handle } = selection;
  const publisher = new EventPublisher({
    broker,
    exchange: handle.info.exchange,
    source: handle.info.name,
    logger: runtime.logger,
  });
  const progress = runtime.out.progress('republish');
  const report = { confirmed: 0, unroutable: [] as string[] };
  const started = Date.now();
  let last: Position | undefined;
  try {
    for await (const page of selected(selection)) {
      runtime.signal.throwIfAborted();
      const events = page.filter((e) => onBus(e.type));
      if (events.length === 0) continue;
      const sent = await publisher.publish(events, {
        signal: runtime.signal,
        ...(queue !== undefined ? { queue } : {}),
      });
      report.confirmed += sent.confirmed;
      report.unroutable.push(...sent.unroutable);
      last = events[events.length - 1]!.position;
      const rate = report.confirmed / Math.max(0.001, (Date.now() - started) / 1000);
      progress.update(
        report.confirmed / total,
        `${formatCount(report.confirmed)}/${formatCount(total)} events  ${formatCount(rate)} ev/s  at ${formatPosition(last)}`,
      );
    }
    progress.done(`${formatCount(report.confirmed)}/${formatCount(total)} events confirmed`);
    return report;
  } catch (error) {
    progress.interrupt();
    if (runtime.signal.aborted)
      throw new CliError(
        `interrupted after ${counted(report.confirmed, 'event')}${last ? `; continue with --from ${formatPosition(last)}` : ''}`,
        130,
      );
    throw error;
  } finally {
    await publisher.stop();
  }
}
