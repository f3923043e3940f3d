import { displayWidth, padEndToWidth, padStartToWidth, truncateToWidth } from './width';

/** One column of a table: its header, how a row shows in it, and how it behaves when narrowed. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
  /** May be cut (ending in …) to fit a terminal; the widest flexible column gives way first. */
  flex?: boolean;
}

const GAP = '  ';
const MIN_FLEX = 12;

/**
 * Rows as aligned lines, header first. Given a width (a terminal's), flexible columns are cut
 * to fit it; without one (a pipe or a file) nothing is cut, so no value is ever lost there.
 */
export function renderTable<T>(
  columns: readonly Column<T>[],
  rows: readonly T[],
  options: { width?: number | undefined; header?: (text: string) => string } = {},
): string[] {
  const cells = rows.map((row) => columns.map((c) => clean(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(displayWidth(c.header), ...cells.map((r) => displayWidth(r[i]!))),
  );
  if (options.width) fit(columns, widths, options.width);
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        const w = widths[i]!;
        const text = truncateToWidth(v, w);
        const last = i === values.length - 1;
        if (columns[i]!.align === 'right') return padStartToWidth(text, w);
        return last ? text : padEndToWidth(text, w);
      })
      .join(GAP)
      .trimEnd();
  const header = line(columns.map((c) => c.header));
  return [options.header ? options.header(header) : header, ...cells.map(line)];
}

function fit<T>(columns: readonly Column<T>[], widths: number[], width: number): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);
  for (;;) {
    const excess = total() - width;
    if (excess <= 0) return;
    let widest = -1;
    columns.forEach((c, i) => {
      if (c.flex && widths[i]! > MIN_FLEX && (widest < 0 || widths[i]! > widths[widest]!))
        widest = i;
    });
    if (widest < 0) return;
    widths[widest] = Math.max(MIN_FLEX, widths[widest]! - excess);
  }
}

/** A cell is one line: control characters would break the alignment of every row after it. */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}
