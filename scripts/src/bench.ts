/**
 * `npm run bench -- <name>`: runs one benchmark from scripts/src/bench/, prints its table, and as
 * the very last line one JSON object {"name","ours","baseline","ratio","unit"}, the baseline
 * measured in the same run. Benchmarks are never part of `npm test`.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { type BenchReport, printTable } from './bench/harness';

async function main(): Promise<void> {
  const available = readdirSync(path.join(__dirname, 'bench'))
    .filter((f) => f.endsWith('.ts') && f !== 'harness.ts')
    .map((f) => f.replace(/\.ts$/, ''));
  const name = process.argv[2];
  if (!name || !available.includes(name)) {
    process.stderr.write(
      `usage: npm run bench -- <name>\navailable: ${available.join(', ') || '(none yet)'}\n`,
    );
    process.exit(name ? 1 : 0);
  }
  const bench = (await import(`./bench/${name}`)) as { default: () => Promise<BenchReport> };
  const report = await bench.default();
  printTable(report);
  const ratio = report.baseline === 0 ? 0 : report.ours / report.baseline;
  process.stdout.write(
    `${JSON.stringify({ name: report.name, ours: round(report.ours), baseline: round(report.baseline), ratio: round(ratio, 3), unit: report.unit })}\n`,
  );
  process.exit(0);
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

main().catch((error: unknown) => {
  process.stderr.write(`benchmark failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
