import { Metrics } from '@meetmatt/infra';
import { NowPaymentsClient } from '../../src/nowpayments/client';
import { API_KEY, type SandboxHarness, startSandbox } from '../support/nowpayments-sandbox';

/** `provider_request_duration_seconds_count` for one operation and outcome. */
async function calls(metrics: Metrics, operation: string, outcome: string): Promise<number> {
  const text = await metrics.text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('provider_request_duration_seconds_count{') &&
        l.includes('provider="nowpayments"') &&
        l.includes(`operation="${operation}"`) &&
        l.includes(`outcome="${outcome}"`),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('NowPaymentsClient metrics', () => {
  let harness: SandboxHarness;
  beforeAll(async () => {
    harness = await startSandbox({ stepMs: 60_000 });
  });
  afterAll(() => harness.stop());

  test('when calls succeed, fail with a 4xx or find nobody listening, then each is counted under its operation and outcome', async () => {
    const metrics = new Metrics('payment', { defaultMetrics: false });
    const client = new NowPaymentsClient({ apiUrl: harness.url, apiKey: API_KEY, metrics });
    await client.status();
    await expect(client.getPayment('9999999999')).rejects.toMatchObject({ kind: 'http' });
    const nobody = new NowPaymentsClient({
      apiUrl: 'http://127.0.0.1:9',
      apiKey: API_KEY,
      timeoutMs: 2_000,
      metrics,
    });
    await expect(nobody.currencies()).rejects.toMatchObject({ kind: 'network' });
    expect(await calls(metrics, 'GET /v1/status', 'ok')).toBe(1);
    expect(await calls(metrics, 'GET /v1/payment/:id', 'client_error')).toBe(1);
    expect(await calls(metrics, 'GET /v1/currencies', 'network_error')).toBe(1);
  });
});
