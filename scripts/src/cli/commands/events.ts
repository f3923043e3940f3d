import { formatPosition } from '@meetmatt/infra';
import { type Invocation } from '../command';
import { type Runtime } from '../runtime';
import { eventJson, formatTime } from '../format';
import { selectedServices } from '../services';
import { findEvent } from './shared';

export async function eventsShow(
  runtime: Runtime,
  { args, values, json }: Invocation,
): Promise<void> {
  const { service, event } = await findEvent(
    runtime,
    args[0]!,
    selectedServices(values.service as string | undefined),
  );
  const out = runtime.out;
  if (json) {
    out.printJson(eventJson(service, event));
    return;
  }
  const { correlationId, causationId, userId, schemaVersion, ...extra } = event.metadata;
  out.fields([
    ['event', event.id],
    ['type', `${event.type} (schema v${schemaVersion})`],
    ['service', service],
    ['stream', `${event.streamId} @ revision ${event.revision}`],
    ['position', formatPosition(event.position)],
    ['recorded', `${formatTime(event.createdAt)} UTC`],
    ['correlation', correlationId],
    ['causation', causationId],
    ...(userId ? [['user', userId] as const] : []),
    ...Object.entries(extra).map(([k, v]) => [k, JSON.stringify(v)] as const),
  ]);
  out.line();
  for (const line of JSON.stringify(event.data, null, 2).split('\n')) out.line(line);
}
