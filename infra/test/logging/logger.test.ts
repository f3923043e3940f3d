import Transport from 'winston-transport';
import { createLogger } from '@meetmatt/infra';

/** Keeps what reaches it. */
class Captured extends Transport {
  readonly entries: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.entries.push(info);
    next();
  }
}

test('when an entry is below the level, then it is dropped before any format reads it; an entry at the level is written, redacted', () => {
  const transport = new Captured();
  const logger = createLogger({ service: 'test', level: 'info', format: 'json', transport });
  let read = 0;
  // winston copies the entry's fields; the formats (redaction) walk into them.
  const meta = {
    nested: {
      get detail() {
        read += 1;
        return 'expensive';
      },
    },
  };
  logger.debug('not wanted', meta);
  expect(read).toBe(0);
  expect(transport.entries).toHaveLength(0);

  logger.info('wanted', { ...meta, password: 'hunter2' });
  expect(transport.entries).toHaveLength(1);
  expect(transport.entries[0]).toMatchObject({
    message: 'wanted',
    service: 'test',
    nested: { detail: 'expensive' },
    password: '[redacted]',
  });
});
