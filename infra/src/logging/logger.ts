import winston from 'winston';
import { requestContext } from '../runtime/request-context';
import { activeTraceIds } from '../tracing/propagation';

export type Logger = winston.Logger;

export interface LoggerOptions {
  service: string;
  level?: string;
  format?: 'json' | 'pretty';
  /** Where entries go instead of the console (tests capture them). */
  transport?: winston.transport;
}

const SECRET_KEY =
  /pass(word)?|secret|token|authorization|cookie|api[-_]?key|x-nowpayments-sig|signature|hash/i;

/** Replaces the value of every secret-looking key, at any depth, before anything is written. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(info[key]);
  }
  return info;
});

const contextFormat = winston.format((info) => {
  const context = requestContext.get();
  if (context && info.correlationId === undefined) info.correlationId = context.correlationId;
  const ids = activeTraceIds();
  if (ids && info.trace_id === undefined) Object.assign(info, ids);
  return info;
});

/**
 * Structured logs: JSON in production, one readable line per entry in development.
 * `silent` turns logging off (tests that do not look at logs).
 */
export function createLogger(options: LoggerOptions): Logger {
  const format = options.format ?? (process.env.NODE_ENV === 'production' ? 'json' : 'pretty');
  const level = options.level ?? 'info';
  // winston runs the formats before its transports look at the level: drop what no transport
  // writes first, so a debug entry costs nothing at level info.
  // (Called only once the logger below exists.)
  const enabled = winston.format((info) => logger.isLevelEnabled(info.level) && info);
  const base = [enabled(), winston.format.timestamp(), contextFormat(), redactFormat()];
  const logger: Logger = winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    defaultMeta: { service: options.service },
    format:
      format === 'json'
        ? winston.format.combine(...base, winston.format.json())
        : winston.format.combine(...base, prettyLine()),
    transports: [options.transport ?? new winston.transports.Console({ stderrLevels: ['error'] })],
  });
  return logger;
}

function prettyLine() {
  return winston.format.printf((info) => {
    const { timestamp, level, message, service, ...rest } = info;
    const extras = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    return `${String(timestamp)} ${String(service)} ${level}: ${String(message)}${extras}`;
  });
}
