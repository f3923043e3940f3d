import { type ServiceKey } from '@meetmatt/contracts';
import {
  type Position,
  type RecordedEvent,
  type StreamInfo,
  type Subscription,
  formatPosition,
  positionBefore,
} from '@meetmatt/infra';
import { type Invocation } from '../command';
import { type Runtime, type ServiceHandle } from '../runtime';
import { CliError } from '../errors';
import { eventJson, formatTime, intOption, parseWhen } from '../format';
import { selectedServices } from '../services';
import { eventColumns, findStream, typeFilter } from './shared';

interface Listed extends StreamInfo {
  service: ServiceKey;
}

export async function streamsList(runtime: Runtime, { values, json }: Invocation): Promise<void> {
  const limit = intOption(values.limit as string | undefined, '--limit', 50);
  const keys = selectedServices(values.service as string | undefined);
  const handles = await runtime.services(keys);
  const pages = await Promise.all(
    handles.map(async (h) => {
      const streams = await h.store.listStreams({
        prefix: (values.prefix as string | undefined) ?? '',
        after: (values.after as string | undefined) ?? '',
        limit: limit + 1,
      });
      const more = streams.length > limit;
      return { service: h.key, more, streams: streams.slice(0, limit) };
    }),
  );
  const rows: Listed[] = pages.flatMap((p) => p.streams.map((s) => ({ ...s, service: p.service })));
  const out = runtime.out;
  if (json) {
    out.printJson({
      streams: rows.map((s) => ({
        service: s.service,
        stream: s.streamId,
        events: s.revision + 1,
        lastRevision: s.revision,
        updatedAt: s.updatedAt?.toISOString(),
      })),
      more: Object.fromEntries(
        pages
          .filter((p) => p.more)
          .map((p) => [p.service, p.streams[p.streams.length - 1]!.streamId]),
      ),
    });
    return;
  }
  if (rows.length === 0) {
    out.line('no streams');
    return;
  }
  out.table(
    [
      { header: 'SERVICE', value: (s: Listed) => s.service },
      { header: 'STREAM', value: (s) => s.streamId },
      { header: 'EVENTS', value: (s) => String(s.revision + 1), align: 'right' },
      { header: 'LAST WRITE (UTC)', value: (s) => (s.updatedAt ? formatTime(s.updatedAt) : '') },
    ],
    rows,
  );
  for (const page of pages.filter((p) => p.more)) {
    const last = page.streams[page.streams.length - 1]!.streamId;
    out.note(
      `${page.service} has more: meetmatt streams list --service ${page.service} --after ${last}`,
    );
  }
}

export async function streamsRead(
  runtime: Runtime,
  { args, values, json }: Invocation,
): Promise<void> {
  const streamId = args[0]!;
  const limit = intOption(values.limit as string | undefined, '--limit', 100);
  const from =
    values.from === undefined ? undefined : intOption(values.from as string, '--from', 0, 0);
  const backwards = values.backwards === true;
  const handle = await findStream(
    runtime,
    streamId,
    selectedServices(values.service as string | undefined),
  );
  const events = await handle.store.readStream(streamId, {
    direction: backwards ? 'backwards' : 'forwards',
    ...(from !== undefined ? { fromRevision: from } : {}),
    maxCount: limit,
  });
  const out = runtime.out;
  if (json) {
    out.printJson({
      service: handle.key,
      stream: streamId,
      events: events.map((e) => eventJson(handle.key, e)),
    });
    return;
  }
  out.note(`${streamId} (${handle.key}): ${events.length} event${events.length === 1 ? '' : 's'}`);
  if (events.length === 0) return;
  out.table(eventColumns, events);
}

export async function streamsTail(runtime: Runtime, { values, json }: Invocation): Promise<void> {
  const keys = selectedServices(values.service as string | undefined);
  const limit =
    values.limit === undefined ? undefined : intOption(values.limit as string, '--limit', 1);
  const { filter, matches } = typeFilter(values.type as string | undefined);
  if (values.prefix !== undefined) filter.streamPrefixes = [values.prefix as string];
  const from = values.from === undefined ? undefined : parseWhen(values.from as string, '--from');
  const handles = await runtime.services(keys);
  const out = runtime.out;
  let seen = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const print = (service: ServiceKey, event: RecordedEvent) => {
    if (limit !== undefined && seen >= limit) return;
    if (!matches(event.type)) return;
    seen += 1;
    if (json) out.printJsonLine(eventJson(service, event));
    else out.line(tailLine(service, event));
    if (limit !== undefined && seen >= limit) finish();
  };
  let caughtUp = 0;
  const subscriptions: Subscription[] = [];
  const starts = await Promise.all(handles.map((h) => startOf(h, from)));
  handles.forEach((h, i) => {
    subscriptions.push(
      h.store.subscribeToAll({
        from: starts[i]!,
        filter,
        batchSize: 200,
        onEvents: async (events) => {
          for (const event of events) print(h.key, event);
        },
        onCaughtUp: () => {
          caughtUp += 1;
          if (caughtUp === handles.length)
            out.warn(`following ${keys.join(', ')} live (Ctrl-C to stop)`);
        },
      }),
    );
  });
  const failed = Promise.race(subscriptions.map((s) => s.done)).then(
    () => undefined,
    (error: unknown) => {
      throw new CliError(`following $all stopped: ${(error as Error).message}`);
    },
  );
  const interrupted = new Promise<void>((resolve) => {
    if (runtime.signal.aborted) resolve();
    runtime.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    await Promise.race([finished, interrupted, failed]);
  } finally {
    await Promise.all(subscriptions.map((s) => s.stop()));
  }
  if (runtime.signal.aborted) out.note(`stopped after ${seen} event${seen === 1 ? '' : 's'}`);
}

async function startOf(
  handle: ServiceHandle,
  from: Position | Date | undefined,
): Promise<Position | 'end'> {
  if (from === undefined) return 'end';
  if (!(from instanceof Date)) return from;
  // Nothing since that time: follow from the end.
  return (await positionBefore(handle.store, from)) ?? 'end';
}

function tailLine(service: ServiceKey, event: RecordedEvent): string {
  return [
    formatTime(event.createdAt),
    service.padEnd(7),
    event.type.padEnd(28),
    event.streamId,
    event.id,
    formatPosition(event.position),
  ].join('  ');
}
