import pg from 'pg';
import { parseTimestamptz } from '../../src/event-store/postgres/timestamps';

const parseWithPg = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (
  value: string,
) => Date | number;

describe('parseTimestamptz', () => {
  test('when PostgreSQL writes a UTC timestamp with any fraction, then the Date is the one pg makes', () => {
    const different: string[] = [];
    // Every millisecond, and microseconds in between (all of them take five seconds).
    const micros = [
      ...Array.from({ length: 1_000 }, (_, ms) => ms * 1_000),
      ...Array.from({ length: Math.floor(1_000_000 / 13) }, (_, i) => i * 13 + 1),
    ];
    for (const value of micros) {
      const fraction = String(value).padStart(6, '0').replace(/0+$/, '');
      const text = `2026-11-28 02:43:57${fraction ? `.${fraction}` : ''}+00`;
      if (parseTimestamptz(text).getTime() !== (parseWithPg(text) as Date).getTime())
        different.push(text);
    }
    expect(different).toEqual([]);
  });

  test('when the text is in another zone, era or form, then pg parses it', () => {
    for (const text of [
      '2026-11-28 03:43:57.5+01',
      '2026-11-28 02:43:57.123456-05:30',
      '0099-01-01 00:00:00+00',
      '0044-03-15 12:00:00+00 BC',
      '12026-01-01 00:00:00+00',
      'infinity',
      '-infinity',
    ]) {
      expect(parseTimestamptz(text)).toEqual(parseWithPg(text));
    }
  });
});
