/**
 * Sessions (and API keys) whose access tokens must be refused, kept in memory so /auth/verify
 * needs no database. An entry is needed only while a token issued before the revocation can
 * still be unexpired: for `windowMs` (the longest token life plus clock tolerance).
 */
export class Revocations {
  private readonly revoked = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly windowMs: number) {
    this.timer = setInterval(() => this.prune(), Math.min(windowMs, 60_000));
    this.timer.unref();
  }

  has(id: string): boolean {
    return this.revoked.has(id);
  }

  add(id: string, revokedAt: Date | string = new Date()): void {
    const until = new Date(revokedAt).getTime() + this.windowMs;
    if (until > Date.now()) this.revoked.set(id, Math.max(until, this.revoked.get(id) ?? 0));
  }

  get size(): number {
    return this.revoked.size;
  }

  prune(now = Date.now()): void {
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
