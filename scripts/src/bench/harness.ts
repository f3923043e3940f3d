/** What a benchmark reports: the headline figure, its same-run baseline, and a table of details. */
export interface BenchReport {
  name: string;
  unit: string;
  ours: number;
  baseline: number;
  /** Rows for the readable table: label → figures. */
  rows: { label: string; [column: string]: string | number }[];
  notes?: string[];
}

export function printTable(report: BenchReport): void {
  const columns = [...new Set(report.rows.flatMap((row) => Object.keys(row)))];
  const cells = report.rows.map((row) => columns.map((c) => format(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${report.name}\n`);
  process.stdout.write(`${line(columns)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of cells) process.stdout.write(`${line(row)}\n`);
  for (const note of report.notes ?? []) process.stdout.write(`${note}\n`);
  process.stdout.write('\n');
}

function format(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(2);
}

/** Runs `task` with `concurrency` workers until `total` operations are done; returns seconds taken. */
export async function runConcurrently(
  total: number,
  concurrency: number,
  task: (index: number, worker: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < total; i = next++) await task(i, worker);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}
