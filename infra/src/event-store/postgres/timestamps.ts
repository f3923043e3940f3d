import pg from 'pg';

export const TIMESTAMPTZ = pg.types.builtins.TIMESTAMPTZ as number;

const parseWithPg = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (value: string) => Date;

/**
 * A timestamptz as PostgreSQL writes it in UTC with the ISO date style
 * (`2026-11-28 02:43:57.063512+00`), parsed without pg's regular expressions into the very
 * Date pg would make (same arithmetic, milliseconds truncated); anything else goes to pg's parser.
 * Reading `$all` parses one per transaction it reads, in about half the time pg's parser takes.
 */
export function parseTimestamptz(value: string): Date {
  const length = value.length;
  const fraction = length > 22 && value.charCodeAt(19) === 46; // '.'
  if (
    (length === 22 || (fraction && length <= 29)) &&
    value.charCodeAt(4) === 45 && // '-'
    value.charCodeAt(10) === 32 && // ' '
    value.endsWith('+00')
  ) {
    const year = Number(value.slice(0, 4));
    // Years below 100 need pg's correction of Date.UTC's 1900s.
    if (year >= 100) {
      return new Date(
        Date.UTC(
          year,
          Number(value.slice(5, 7)) - 1,
          Number(value.slice(8, 10)),
          Number(value.slice(11, 13)),
          Number(value.slice(14, 16)),
          Number(value.slice(17, 19)),
          fraction ? 1000 * parseFloat(value.slice(19, length - 3)) : 0,
        ),
      );
    }
  }
  return parseWithPg(value);
}
