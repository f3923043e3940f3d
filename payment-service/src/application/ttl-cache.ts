/**
 * Answers kept for a while, one load at a time per key: callers that miss together share the
 * one load in flight (single flight), and a failed load is not kept, so the next caller tries
 * again. Keys must come from a bounded set (the caller validates them first).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) return Promise.resolve(hit.value);
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const loading = load()
      .then((value) => {
        this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
        return value;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, loading);
    return loading;
  }

  /** How long the kept answer for `key` stays fresh, in whole seconds (0: none or expired). */
  freshForSeconds(key: string): number {
    const hit = this.entries.get(key);
    return hit ? Math.max(0, Math.floor((hit.expiresAt - this.now()) / 1000)) : 0;
  }
}
