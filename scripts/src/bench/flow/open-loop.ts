import { sleep } from '@meetmatt/infra/runtime/backoff';

/**
 * Starts `send(i)` for i = 0…total-1 at `rate` per second on a fixed schedule, whatever the
 * earlier calls are doing (open loop: a slow answer does not slow the offered load down), and
 * resolves when every call has settled. A call that throws is counted, not retried.
 */
export async function openLoop(
  rate: number,
  total: number,
  send: (index: number) => Promise<void>,
): Promise<{ failures: number; lateMs: number }> {
  const started = performance.now();
  const calls: Promise<void>[] = [];
  let failures = 0;
  let lateMs = 0;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    else lateMs = Math.max(lateMs, -wait);
    calls.push(send(i).catch(() => void (failures += 1)));
  }
  await Promise.all(calls);
  return { failures, lateMs };
}
