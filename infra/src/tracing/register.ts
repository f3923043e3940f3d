/* eslint-disable no-console -- the process boundary: runs before any logger exists */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tracingRequested } from './propagation';
import type * as Setup from './setup';

/**
 * `import '@meetmatt/infra/tracing/register'` as the first line of a service's main.ts starts
 * tracing before anything it instruments loads. `service.name` is OTEL_SERVICE_NAME or the
 * entry point's workspace (`@meetmatt/payment-service` → `payment-service`).
 */
function entryService(): string {
  let dir = path.dirname(require.main?.filename ?? process.argv[1] ?? process.cwd());
  for (let i = 0; i < 6; i++) {
    try {
      const { name } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
      };
      if (name) return name.replace(/^@[^/]+\//, '');
    } catch {
      // no package.json here: look one level up
    }
    dir = path.dirname(dir);
  }
  return 'unknown_service';
}

if (tracingRequested()) {
  try {
    // Loaded only when asked for: with tracing off, no SDK and no instrumentation is even read.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startTracing } = require('./setup') as typeof Setup;
    startTracing({ service: entryService() });
  } catch (error) {
    console.error(`tracing: ${(error as Error).message}`);
    process.exit(1);
  }
}
