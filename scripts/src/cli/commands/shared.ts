import { type ServiceKey } from '@meetmatt/contracts';
import { type AllFilter, type RecordedEvent } from '@meetmatt/infra';
import { CliError } from '../errors';
import { compactJson, formatTime, shortId } from '../format';
import { type Runtime, type ServiceHandle } from '../runtime';
import { serviceOrder } from '../services';
import { type Column } from '../table';

export function listServices(keys: readonly ServiceKey[]): string {
  if (keys.length === 1) return keys[0]!;
  return `${keys.slice(0, -1).join(', ')} or ${keys[keys.length - 1]}`;
}

/** The service whose store holds `streamId` (the first in payment, user, brain order). */
export async function findStream(
  runtime: Runtime,
  streamId: string,
  keys: readonly ServiceKey[],
): Promise<ServiceHandle> {
  const handles = await runtime.services(keys);
  const found = await Promise.all(handles.map((h) => h.store.streamExists(streamId)));
  const index = found.indexOf(true);
  if (index < 0)
    throw new CliError(`no stream ${JSON.stringify(streamId)} in ${listServices(keys)}`);
  return handles[index]!;
}

export interface ServiceEvent {
  service: ServiceKey;
  event: RecordedEvent;
}

export async function findEvent(
  runtime: Runtime,
  eventId: string,
  keys: readonly ServiceKey[],
): Promise<ServiceEvent> {
  const handles = await runtime.services(keys);
  const found = await Promise.all(handles.map((h) => h.store.readEvent(eventId)));
  const index = found.findIndex((e) => e !== undefined);
  if (index < 0) throw new CliError(`no event ${JSON.stringify(eventId)} in ${listServices(keys)}`);
  return { service: handles[index]!.key, event: found[index]! };
}

/** `payment.*,agent.deployed` → a store filter (broad) plus an exact test (what was asked). */
export function typeFilter(patterns: string | undefined): {
  filter: AllFilter;
  matches: (type: string) => boolean;
} {
  if (!patterns) return { filter: {}, matches: () => true };
  const list = patterns
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const prefixes = list.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  const exact = list.filter((p) => !p.endsWith('*'));
  const matches = (type: string) =>
    exact.includes(type) || prefixes.some((p) => type.startsWith(p));
  // The store ANDs its filter fields, so a mix of both kinds is asked for as prefixes and the
  // exact names are checked here.
  if (prefixes.length === 0) return { filter: { eventTypes: exact }, matches };
  if (prefixes.includes('')) return { filter: {}, matches };
  return { filter: { eventTypePrefixes: [...prefixes, ...exact] }, matches };
}

export function byServiceOrder(a: ServiceKey, b: ServiceKey): number {
  return serviceOrder.indexOf(a) - serviceOrder.indexOf(b);
}

export const eventColumns: Column<RecordedEvent>[] = [
  { header: 'REV', value: (e) => String(e.revision), align: 'right' },
  { header: 'TIME (UTC)', value: (e) => formatTime(e.createdAt) },
  { header: 'TYPE', value: (e) => e.type },
  { header: 'EVENT ID', value: (e) => e.id },
  { header: 'CORRELATION', value: (e) => shortId(e.metadata.correlationId) },
  { header: 'DATA', value: (e) => compactJson(e.data), flex: true },
];
