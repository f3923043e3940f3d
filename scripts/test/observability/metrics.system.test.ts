import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runJourney } from '../../src/lib/gateway-journey';
import { type TestSystem, startSystem } from '../support/spawned-system';

/**
 * What Prometheus would scrape from the three services after one whole journey (order, payment,
 * deploy): each /metrics passes `promtool check metrics` (names, types, units, HELP), and every
 * metric the dashboard and the alert rules read is one the services export.
 */
const root = path.resolve(__dirname, '../../..');
const observability = path.join(root, 'infra/observability');

const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression reads (not its functions, labels or keywords). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)) {
    const [, name, call] = match;
    if (!name || call || PROMQL_WORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

function promtool(args: string[], input: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT')
    throw new Error('promtool is not installed: apt-get install prometheus (.ci/run does it)');
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('each service’s /metrics after a journey', () => {
  let system: TestSystem;
  const scraped: Record<string, string> = {};

  beforeAll(async () => {
    system = await startSystem();
    await runJourney({ baseUrl: system.gatewayUrl, timeoutMs: 60_000 });
    for (const [service, url] of Object.entries(system.serviceUrls)) {
      const response = await fetch(`${url}/metrics`);
      expect(response.status).toBe(200);
      scraped[service] = await response.text();
    }
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  }, 30_000);

  const exported = () =>
    new Set(
      Object.values(scraped).flatMap((text) =>
        text
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('#'))
          .map((line) => /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)?.[0] ?? ''),
      ),
    );

  test.each(['payment', 'user', 'brain'])(
    'when the %s service’s /metrics goes through promtool check metrics, then it passes',
    (service) => {
      const { status, output } = promtool(['check', 'metrics'], scraped[service]!);
      expect(output).toBe('');
      expect(status).toBe(0);
    },
  );

  test('when the services are scraped, then the metrics issue 20 asks for are there, with one unit per name', () => {
    const names = exported();
    for (const name of [
      'build_info',
      'broker_reconnects_total',
      'relay_lag_events',
      'relay_lag_seconds',
      'consumer_backlog_messages',
      'consumer_backlog_seconds',
      'consumer_parked_messages',
      'projection_lag_events',
      'projection_lag_seconds',
      'eventstore_append_duration_seconds_bucket',
      'bus_handle_duration_seconds_bucket',
      'journey_deploy_pending_seconds',
      'readiness_changes_total',
    ])
      expect([name, names.has(name)]).toEqual([name, true]);
    for (const provider of ['nowpayments', 'devin'])
      expect(Object.values(scraped).join('\n')).toMatch(
        new RegExp(
          `provider_request_duration_seconds_count\\{[^}]*provider="${provider}"[^}]*outcome="ok"`,
        ),
      );
    expect(scraped.payment).toMatch(/# TYPE broker_reconnects_total counter/);
    expect(names.has('relay_lag_bytes')).toBe(false);
  });

  test('when the dashboard is read, then every expression names only metrics the services export', () => {
    const dashboard = JSON.parse(
      readFileSync(path.join(observability, 'grafana/meetmatt-journey.json'), 'utf8'),
    ) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };
    const names = exported();
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(20);
    const unknown = exprs.flatMap((expr) => metricNames(expr).filter((n) => !names.has(n)));
    expect(unknown).toEqual([]);
  });

  test('when the alert rules are read, then every expression names only metrics the services export', () => {
    const rules = parse(
      readFileSync(path.join(observability, 'prometheus/alerts.yml'), 'utf8'),
    ) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const names = exported();
    const exprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(7);
    const unknown = exprs.flatMap((expr) => metricNames(expr).filter((n) => !names.has(n)));
    expect(unknown).toEqual([]);
  });

  test('when a PromQL expression is read, then its metric names are found and nothing else', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (provider, le) (rate(provider_request_duration_seconds_bucket{outcome!="ok"}[5m]))) / on (service) group_left(version) build_info > 1 / 60',
      ),
    ).toEqual(['provider_request_duration_seconds_bucket', 'build_info']);
  });
});
