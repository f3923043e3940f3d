import { type ServiceKey } from '@meetmatt/contracts';
import { type Invocation } from '../command';
import { type Runtime, type ServiceHandle } from '../runtime';
import { CliError } from '../errors';
import { counted, eventJson, formatDuration, formatTime, intOption, shortId } from '../format';
import { type JourneyEvent, findJourney, traceIdOfEvent } from '../journey-events';
import { serviceOrder } from '../services';

interface Step extends JourneyEvent {
  gapMs: number;
  sinceStartMs: number;
}

export async function trace(runtime: Runtime, { args, values, json }: Invocation): Promise<void> {
  const cap = intOption(values.limit as string | undefined, '--limit', 1_000);
  const opened = await runtime.services(serviceOrder);
  const handles = Object.fromEntries(opened.map((h) => [h.key, h])) as Record<
    ServiceKey,
    ServiceHandle
  >;
  const journey = await findJourney(handles, args[0]!, cap);
  if (!journey)
    throw new CliError(
      `nothing found for ${JSON.stringify(args[0])}: not a payment id, an agent id, a trace id or a correlation id in payment, user or brain`,
    );
  const start = journey.events[0]!.event.createdAt.getTime();
  let previous = start;
  const steps: Step[] = journey.events.map((e) => {
    const at = e.event.createdAt.getTime();
    const step = { ...e, gapMs: at - previous, sinceStartMs: at - start };
    previous = at;
    return step;
  });
  const totalMs = previous - start;
  const counts = serviceOrder
    .map((key) => [key, steps.filter((s) => s.service === key).length] as const)
    .filter(([, n]) => n > 0);
  const out = runtime.out;
  if (json) {
    out.printJson({
      query: args[0],
      kind: journey.kind,
      paymentIds: journey.paymentIds,
      agentIds: journey.agentIds,
      correlationIds: journey.correlationIds,
      traceIds: journey.traceIds,
      durationMs: totalMs,
      truncated: journey.truncated,
      events: steps.map((s) => ({
        ...eventJson(s.service, s.event),
        gapMs: s.gapMs,
        sinceStartMs: s.sinceStartMs,
      })),
    });
    return;
  }
  const heading = [
    ...journey.paymentIds.map((id) => `payment ${id}`),
    ...journey.agentIds.map((id) => `agent ${id}`),
  ];
  // A journey within one day shows times of day; its date is in the summary line.
  const startedAt = journey.events[0]!.event.createdAt;
  const day = (date: Date) => date.toISOString().slice(0, 10);
  const oneDay = steps.every((s) => day(s.event.createdAt) === day(startedAt));
  const time = (date: Date) => (oneDay ? formatTime(date).slice(11) : formatTime(date));
  out.line(heading.length > 0 ? heading.join(' → ') : `${journey.kind} ${args[0]}`);
  out.line(
    `${counted(steps.length, 'event')} in ${counts.map(([k, n]) => `${k} (${n})`).join(', ')} over ${formatDuration(totalMs)}, from ${formatTime(startedAt)} UTC`,
  );
  out.line();
  out.table(
    [
      { header: 'TIME (UTC)', value: (s: Step) => time(s.event.createdAt) },
      {
        header: 'GAP',
        value: (s) => (s.gapMs === 0 && s.sinceStartMs === 0 ? '' : `+${formatDuration(s.gapMs)}`),
        align: 'right',
      },
      { header: 'SERVICE', value: (s) => s.service },
      { header: 'STREAM', value: (s) => s.event.streamId, flex: true },
      { header: 'TYPE', value: (s) => s.event.type },
      { header: 'CORRELATION', value: (s) => shortId(s.event.metadata.correlationId) },
      // Only once tracing has recorded something: the trace each event was recorded in.
      ...(journey.traceIds.length > 0
        ? [{ header: 'TRACE', value: (s: Step) => shortId(traceIdOfEvent(s.event) ?? '') }]
        : []),
    ],
    steps,
  );
  if (journey.truncated) out.note(`stopped at ${cap} events: --limit raises it`);
}
