/**
 * `npm run demo`: the customer's whole journey against a running `npm start`, narrated: each
 * step says what it called and what came back, ending with the deployed agent's pull request.
 * Every call goes through the typed client (@meetmatt/client), as the web app's would.
 */
import { createClient } from '@meetmatt/client';
import { GATEWAY_PORT } from '@meetmatt/contracts';
import { runJourney } from './lib/gateway-journey';

const out = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const baseUrl =
    process.env.DEMO_URL ?? `http://127.0.0.1:${process.env.GATEWAY_PORT ?? GATEWAY_PORT}`;
  try {
    await createClient({ baseUrl, timeoutMs: 2_000, retry: { attempts: 1 } }).api.healthz();
  } catch (error) {
    out(
      `No Meet Matt gateway at ${baseUrl} (${(error as Error).message}). Start the system first: npm start`,
    );
    process.exit(1);
  }
  out(`Meet Matt, the whole journey through ${baseUrl}`);
  out('');
  const started = Date.now();
  let n = 0;
  const result = await runJourney({
    baseUrl,
    timeoutMs: Number(process.env.DEMO_TIMEOUT_MS ?? 90_000),
    onStep: (step) => {
      n += 1;
      const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
      out(`${seconds}s  ${String(n).padStart(2)}. ${step.title}`);
      out(`          → ${step.request}`);
      out(`          ← ${step.status} ${step.summary}`);
    },
    onRetry: (request, status) =>
      out(
        `          ↻ ${request} ${status ? `answered ${status}` : 'lost its connection'}; trying again`,
      ),
  });
  out('');
  out(
    `Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Correlation id of the journey: ${result.correlationId}`,
  );
  out(
    `  user ${result.userId}, payment ${result.paymentId}, invoice ${result.invoiceNumber}, agent ${result.agentId}`,
  );
  out(`  trace it: npm run meetmatt -- trace ${result.correlationId}`);
  out('');
  out(`The agent's pull request: ${result.pullRequestUrl}`);
}

main().catch((error: unknown) => {
  out(`demo failed: ${(error as Error).message}`);
  process.exit(1);
});
