import { Metrics } from '@meetmatt/infra';
import { type SandboxHarness, sessionRequest, startSandbox } from '../support/devin-sandbox';

describe('DevinClient metrics', () => {
  let harness: SandboxHarness;
  beforeAll(async () => {
    harness = await startSandbox({ stepMs: 60_000 });
  });
  afterAll(() => harness.stop());

  test('when Devin answers 500 twice and then 200, then each attempt is counted under its outcome', async () => {
    const metrics = new Metrics('brain', { defaultMetrics: false });
    const client = harness.client({ metrics });
    const { session_id } = await client.createSession(sessionRequest());
    harness.sandbox.failNext({ count: 2, status: 500 });
    await client.getSession(session_id);
    const text = await metrics.text();
    const count = (operation: string, outcome: string) =>
      Number(
        new RegExp(
          `provider_request_duration_seconds_count\\{[^}]*provider="devin",operation="${operation}",outcome="${outcome}"\\} (\\d+)`,
        ).exec(text)?.[1] ?? 0,
      );
    expect(count('POST /v1/sessions', 'ok')).toBe(1);
    expect(count('GET /v1/sessions/:id', 'server_error')).toBe(2);
    expect(count('GET /v1/sessions/:id', 'ok')).toBe(1);
  });
});
