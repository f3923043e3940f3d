import Transport from 'winston-transport';
import { type Logger, createLogger } from '../logging/logger';

export interface CapturedLog {
  level: string;
  message: string;
  [key: string]: unknown;
}

class MemoryTransport extends Transport {
  constructor(private readonly sink: CapturedLog[]) {
    super();
  }
  override log(info: CapturedLog, next: () => void): void {
    this.sink.push({ ...info });
    next();
  }
}

/**
 * A logger with the production formats (context, redaction) that keeps what it is told, so a
 * test can assert on what was logged, and on what never was.
 */
export function captureLogger(service = 'test'): {
  logger: Logger;
  entries: CapturedLog[];
  text(): string;
} {
  const entries: CapturedLog[] = [];
  const logger = createLogger({
    service,
    level: 'debug',
    format: 'json',
    transport: new MemoryTransport(entries),
  });
  return { logger, entries, text: () => entries.map((e) => JSON.stringify(e)).join('\n') };
}
