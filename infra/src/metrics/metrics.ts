import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { version as packageVersion } from '../../package.json';

export interface BuildInfo {
  /** The release (default: the workspace's package.json version). */
  version?: string;
  /** The source commit, when the build knows it (BUILD_COMMIT); empty otherwise. */
  commit?: string | undefined;
}

const GAUGES_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * One registry per service instance (not prom-client's global one), so several services
 * can run in one test process without clashing metric names.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(
    readonly service: string,
    options: { defaultMetrics?: boolean; build?: BuildInfo } = {},
  ) {
    this.registry.setDefaultLabels({ service });
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters (promtool check metrics refuses them); their per-type
      // breakdowns (nodejs_active_handles{type}, …) stay and sum to the same.
      for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
    }
    // The info-metric idiom: always 1, the build in its labels, joined onto other series by
    // `* on (service, instance) group_left(version) build_info`.
    this.gauge('build_info', 'The running build (always 1)', ['version', 'commit', 'node'], (g) => {
      g.set(
        {
          version: options.build?.version ?? packageVersion,
          commit: options.build?.commit ?? '',
          node: process.versions.node,
        },
        1,
      );
    });
    this.httpRequests = this.counter('http_requests_total', 'HTTP requests answered', [
      'method',
      'route',
      'status',
    ]);
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter<L>;
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * A counter that follows a running total kept elsewhere (reconnections, say): at each scrape
   * it is raised by what the total grew since the last one, so it stays a counter.
   */
  counterOf(name: string, help: string, total: () => number): Counter {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter;
    let seen = 0;
    return new Counter({
      name,
      help,
      registers: [this.registry],
      collect(this: Counter) {
        const now = total();
        if (now > seen) this.inc(now - seen);
        seen = Math.max(seen, now);
      },
    });
  }

  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (gauge: Gauge<L>) => void | Promise<void>,
  ): Gauge<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Gauge<L>;
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect
        ? {
            collect(this: Gauge<L>) {
              return collect(this);
            },
          }
        : {}),
    });
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets?: number[],
  ): Histogram<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Histogram<L>;
    return new Histogram({
      name,
      help,
      labelNames,
      registers: [this.registry],
      ...(buckets ? { buckets } : {}),
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export * from './provider-calls';
export * from './event-store-metrics';
