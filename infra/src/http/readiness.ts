import { type RequestHandler } from 'express';
import { type Logger } from '../logging/logger';
import { type Metrics } from '../metrics/metrics';

export interface ReadinessResult {
  ok: boolean;
  error?: string;
  details?: Record<string, unknown>;
}

/**
 * One dependency /readyz looks at. `check` throws (or returns ok: false) when it is not usable;
 * each check is bounded by `timeoutMs` so a hung dependency reads as down, not as a hung probe.
 */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void | ReadinessResult>;
  timeoutMs?: number;
}

export async function runReadiness(checks: ReadinessCheck[]) {
  const entries = await Promise.all(
    checks.map(async ({ name, check, timeoutMs = 2_000 }): Promise<[string, ReadinessResult]> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const result = await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
        return [name, result ?? { ok: true }];
      } catch (error) {
        return [name, { ok: false, error: error instanceof Error ? error.message : String(error) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const checksOut = Object.fromEntries(entries);
  const failing = entries.find(([, r]) => !r.ok);
  return {
    ready: !failing,
    body: {
      status: failing ? ('unavailable' as const) : ('ready' as const),
      ...(failing ? { reason: `${failing[0]}: ${failing[1].error ?? 'not ready'}` } : {}),
      checks: checksOut,
    },
  };
}

/**
 * GET /readyz. With `metrics`: `readiness_ready` (the last answer, 1 or 0) and
 * `readiness_changes_total` (every flip between them: the flapping alert's counter).
 */
export function readinessHandler(
  checks: ReadinessCheck[],
  logger: Logger,
  metrics?: Metrics,
): RequestHandler {
  let lastReady = true;
  const changes = metrics?.counter(
    'readiness_changes_total',
    'Flips of /readyz between ready and not',
  );
  changes?.inc(0);
  const current = metrics?.gauge(
    'readiness_ready',
    'The last /readyz answer: ready (1) or not (0)',
  );
  current?.set(1);
  return async (_req, res) => {
    const { ready, body } = await runReadiness(checks);
    current?.set(ready ? 1 : 0);
    if (ready !== lastReady) {
      changes?.inc();
      lastReady = ready;
      if (ready) logger.info('ready again');
      else logger.warn('not ready', { reason: body.reason });
    }
    res.status(ready ? 200 : 503).json(body);
  };
}

/**
 * For what this instance shares with every other replica (projections run by one leader into
 * shared tables): a problem there shows in /readyz's details as `degraded`, the features that
 * read it answer what they can, and the instance stays in rotation. Failing readiness for it
 * would take every replica out at once, and restarting them cures nothing.
 */
export function degradesOnly(check: ReadinessCheck): ReadinessCheck {
  return {
    ...check,
    check: async (): Promise<ReadinessResult> => {
      try {
        const result = await check.check();
        if (!result || result.ok) return result ?? { ok: true };
        return {
          ok: true,
          details: { ...result.details, degraded: result.error ?? 'not ready' },
        };
      } catch (error) {
        return {
          ok: true,
          details: { degraded: error instanceof Error ? error.message : String(error) },
        };
      }
    },
  };
}
