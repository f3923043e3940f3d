import { percentile } from '../harness';

/** p50, p99 and max of a list of milliseconds (0 when empty). */
export interface Spread {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : 0,
    n: sorted.length,
  };
}

export function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** "p50 / p99" as the table shows it. */
export function pair(s: Spread): string {
  return s.n === 0 ? '-' : `${ms(s.p50)} / ${ms(s.p99)}`;
}
