import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Metrics, registerBrokerMetrics } from '@meetmatt/infra';

/**
 * The alert rules as Prometheus reads them: `promtool check rules` (syntax, PromQL) and
 * `promtool test rules` (each alert against input series, firing and staying quiet). promtool
 * comes with Debian's `prometheus` package, which .ci/run installs; without it this fails and
 * says so, rather than passing unchecked.
 */
const dir = path.resolve(__dirname, '../../observability/prometheus');
const rules = path.join(dir, 'alerts.yml');
const tests = path.join(dir, 'alerts.test.yml');

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    ...(input === undefined ? {} : { input }),
  });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      'promtool is not installed: apt-get install prometheus (Debian/Ubuntu; .ci/run does it), or put a Prometheus release’s promtool on PATH',
    );
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const alertNames = (text: string) => [...text.matchAll(/alertname: (\w+)/g)].map((m) => m[1]);

describe('alert rules (infra/observability/prometheus)', () => {
  test('when promtool checks the rules, then they parse and every expression is valid PromQL', () => {
    const { status, output } = promtool(['check', 'rules', rules]);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
    expect(status).toBe(0);
  });

  test('when promtool runs the rule unit tests, then every alert fires on its series and not on the near misses', () => {
    const { status, output } = promtool(['test', 'rules', tests]);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  test('when the rules are listed, then each alert has a unit test that sees it fire', () => {
    const defined = [...readFileSync(rules, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(defined).toEqual(
      expect.arrayContaining([
        'RelayStuck',
        'ProjectionStuck',
        'ProjectionFailed',
        'DeadLetterQueueNotEmpty',
        'ProviderErrorRate',
        'PaymentConfirmedNoDeploy',
        'ReadinessFlapping',
      ]),
    );
    // An alert tested only with `exp_alerts: []` would pass however broken its expression.
    const testText = readFileSync(tests, 'utf8');
    const firing = testText
      .split(/\n\s+- eval_time:/)
      .filter((block) => /exp_alerts:\n\s+- exp_labels/.test(block))
      .flatMap(alertNames);
    expect(new Set(firing)).toEqual(new Set(defined));
  });

  test('when a rule is broken, then promtool says so (the check is not a formality)', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'rules-')), 'broken.yml');
    writeFileSync(
      file,
      'groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: rate(relay_lag_seconds[5m]\n',
    );
    const broken = promtool(['check', 'rules', file]);
    expect(broken.output).toMatch(/parse error/);
    expect(broken.status).not.toBe(0);
  });

  test('when a service registry with the default Node metrics goes through promtool check metrics, then nothing is refused', async () => {
    const metrics = new Metrics('test');
    metrics.httpRequests.inc({ method: 'GET', route: '/x', status: '200' });
    registerBrokerMetrics(metrics, { state: 'connected', reconnects: 1 });
    const { status, output } = promtool(['check', 'metrics'], await metrics.text());
    expect(output).toBe('');
    expect(status).toBe(0);
  });
});
