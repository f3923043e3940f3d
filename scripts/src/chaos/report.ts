import { type ChaosReport } from './run';
import { SCENARIOS, type ScenarioName } from './journeys';

function tally<K>(items: K[]): Map<K, number> {
  const out = new Map<K, number>();
  for (const item of items) out.set(item, (out.get(item) ?? 0) + 1);
  return out;
}

function list<K>(map: Map<K, number>): string {
  return map.size ? [...map].map(([k, n]) => `${String(k)} ${n}`).join(', ') : 'none';
}

/** How long the services took to be ready again after a fault: median and worst. */
function recovery(report: ChaosReport): string {
  const times = report.faults.map((f) => f.readyAfterMs).filter((t) => t !== undefined);
  if (times.length === 0) return 'no fault';
  const known = times.filter((t): t is number => t !== null).sort((a, b) => a - b);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const never = times.length - known.length;
  const median = known[Math.floor(known.length / 2)];
  const parts = [
    ...(median === undefined ? [] : [`median ${s(median)}`, `worst ${s(known.at(-1)!)}`]),
    ...(never ? [`${never} not ready within 90 s`] : []),
  ];
  return `${parts.join(', ')} until every service was ready after a fault`;
}

/** The figures of a run, one per line, then its problems; the last line is one JSON object. */
export function formatReport(report: ChaosReport): string[] {
  const scenarios = tally(report.journeys.map((j) => j.scenario));
  const ordered = new Map<ScenarioName, number>();
  for (const name of Object.keys(SCENARIOS) as ScenarioName[]) {
    if (scenarios.has(name)) ordered.set(name, scenarios.get(name)!);
  }
  const faults = tally(report.faults.map((f) => f.kind));
  const restarts = [...report.restarts.values()].reduce((a, b) => a + b, 0);
  const settle =
    report.settleMs === null ? 'not settled' : `${(report.settleMs / 1000).toFixed(1)} s`;
  const lines = [
    '',
    '== chaos run',
    `journeys      ${report.journeys.length} (${list(ordered)})`,
    `faults        ${report.faults.length} (${list(faults)})`,
    `restarts      ${restarts} (${list(report.restarts)})`,
    `recovery      ${recovery(report)}`,
    `settle time   ${settle} after the last fault`,
    `calls         ${report.calls.calls}, retried ${report.calls.retries} times (${list(report.calls.answers)})`,
    `duration      ${(report.durationMs / 1000).toFixed(1)} s`,
  ];
  if (report.problems.length) {
    lines.push('', `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}:`);
    for (const problem of report.problems.slice(0, 100)) lines.push(`  - ${problem}`);
    if (report.problems.length > 100) lines.push(`  … and ${report.problems.length - 100} more`);
    lines.push(`process output: ${report.logFile}`);
  } else lines.push('', 'no problem');
  lines.push(
    JSON.stringify({
      journeys: report.journeys.length,
      faults: Object.fromEntries(faults),
      restarts: Object.fromEntries(report.restarts),
      settleMs: report.settleMs,
      worstRecoveryMs: Math.max(0, ...report.faults.map((f) => f.readyAfterMs ?? 0)),
      problems: report.problems.length,
    }),
  );
  return lines;
}
