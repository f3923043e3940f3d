import { type Position, type RecordedEvent, formatPosition, parsePosition } from '@meetmatt/infra';
import { UsageError } from './errors';

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `350 ms`, `4.2 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${sign}${Math.round(abs)} ms`;
  if (abs < 60_000) return `${sign}${(abs / 1_000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  const s = Math.round(abs / 1_000);
  if (s < 3_600) return `${sign}${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const m = Math.round(s / 60);
  if (m < 1_440) return `${sign}${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
  const h = Math.round(m / 60);
  return `${sign}${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/** `2026-05-01 10:00:00.123` (UTC), sortable and the same on every operator's machine. */
export function formatTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)$/i;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `500ms`, `30s`, `10m`, `2h`, `1d` → milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2]!.toLowerCase()]!;
}

export function durationOption(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new UsageError(
      `${flag} expects a duration such as 30s, 10m, 2h or 1d, got ${JSON.stringify(text)}`,
    );
  return ms;
}

/**
 * Where to start or stop: a `$all` position (`commit:prepare`, as `streams read` and
 * `projections list` show them), a time (ISO 8601), or a duration meaning that long ago.
 */
export function parseWhen(text: string, flag: string, now = new Date()): Position | Date {
  const trimmed = text.trim();
  if (/^\d+:\d+$/.test(trimmed)) return parsePosition(trimmed);
  const ago = parseDuration(trimmed);
  if (ago !== undefined) return new Date(now.getTime() - ago);
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const date = new Date(trimmed);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new UsageError(
    `${flag} expects a position (commit:prepare), a time (2026-05-01T10:00:00Z) or a duration ago (15m), got ${JSON.stringify(text)}`,
  );
}

export function describeWhen(when: Position | Date): string {
  return when instanceof Date ? when.toISOString() : `position ${formatPosition(when)}`;
}

export function intOption(
  text: string | undefined,
  flag: string,
  fallback: number,
  min = 1,
): number {
  if (text === undefined) return fallback;
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed)) || Number(trimmed) < min) {
    const kind =
      min === 1
        ? 'a positive integer'
        : min === 0
          ? 'a whole number (0 or more)'
          : `a whole number of at least ${min}`;
    throw new UsageError(`${flag} must be ${kind}, got ${shownValue(text)}`);
  }
  return Number(trimmed);
}

/** A value as typed (`-3`), quoted only when it would not read as one token (`""`, `a b`). */
export function shownValue(text: string): string {
  return /^[^\s"']+$/.test(text) ? text : JSON.stringify(text);
}

/** A stored event as the CLI's JSON shows it (positions as `commit:prepare` strings). */
export function eventJson(service: string, event: RecordedEvent) {
  const { correlationId, causationId, userId, schemaVersion, ...extra } = event.metadata;
  return {
    service,
    id: event.id,
    stream: event.streamId,
    revision: event.revision,
    type: event.type,
    position: formatPosition(event.position),
    createdAt: event.createdAt.toISOString(),
    correlationId,
    causationId,
    ...(userId ? { userId } : {}),
    schemaVersion,
    ...(Object.keys(extra).length > 0 ? { metadata: extra } : {}),
    data: event.data,
  };
}

/** Data on one line, for tables. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value) ?? '';
}

/** `abcdef12…` for ids in narrow columns. */
export function shortId(id: string | undefined, length = 8): string {
  if (!id) return '';
  return id.length > length + 1 ? `${id.slice(0, length)}…` : id;
}

/** `1 event`, `2,345 events`. */
export function counted(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
}
