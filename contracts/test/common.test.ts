import {
  DaySchema,
  INT4_MAX,
  PageQuerySchema,
  TimestampSchema,
  isStorableDate,
  queryInteger,
} from '../src';

/** The shared building blocks keep out what PostgreSQL (or JavaScript's reading of it) cannot hold. */
describe('storable dates, integers and cursors', () => {
  test.each([
    ['an offset that carries 9999 into 10000 UTC', '9999-12-31T23:59:59-23:59'],
    ['year 1', '0001-01-01T00:00:00Z'],
    ['before 1970', '1969-12-31T23:59:59Z'],
    ['a day February does not have', '2024-02-30T00:00:00Z'],
    ['a six-digit year', '+275760-09-13T00:00:00.000Z'],
    ['no offset', '2026-01-01T00:00:00'],
  ])('when a date-time is %s, then TimestampSchema refuses it', (_what, text) => {
    expect(TimestampSchema.safeParse(text).success).toBe(false);
  });

  test.each(['2026-12-02T06:00:00Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59+01:00'])(
    'when a date-time is %s, then TimestampSchema takes it',
    (text) => {
      expect(TimestampSchema.safeParse(text).success).toBe(true);
    },
  );

  test.each(['0001-01-10', '1969-12-31', '2024-02-30', '294277-01-01', '10000-01-01'])(
    'when a day is %s, then DaySchema refuses it',
    (text) => {
      expect(DaySchema.safeParse(text).success).toBe(false);
    },
  );

  test('when a day is in range, then DaySchema takes it', () => {
    expect(DaySchema.parse('2026-12-02')).toBe('2026-12-02');
  });

  test('when a Date is outside the storable years or invalid, then isStorableDate says so', () => {
    expect(isStorableDate(new Date('-200000-01-01T00:00:00Z'))).toBe(false);
    expect(isStorableDate(new Date('not a date'))).toBe(false);
    expect(isStorableDate(new Date('2026-01-01T00:00:00Z'))).toBe(true);
  });

  test('when a query integer exceeds the int4 column it is compared with, then it is refused with the bound', () => {
    const after = queryInteger(0, INT4_MAX);
    expect(after.safeParse('3000000000').success).toBe(false);
    expect(after.safeParse('-1').success).toBe(false);
    expect(after.safeParse('1.5').success).toBe(false);
    expect(after.parse('2147483647')).toBe(INT4_MAX);
  });

  test('when a cursor holds characters no base64url cursor has, then PageQuerySchema refuses it naming cursor', () => {
    const result = PageQuerySchema.safeParse({ cursor: 'abc\u0000|-200000' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['cursor']);
    expect(PageQuerySchema.parse({ cursor: 'MjAyNi0wMS0wMQ_-' }).cursor).toBe('MjAyNi0wMS0wMQ_-');
  });
});
