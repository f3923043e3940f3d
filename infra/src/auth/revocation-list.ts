/** What a token verifier asks: is this session or API key revoked? */
export interface RevocationCheck {
  has(id: string): boolean;
  /** Tokens living longer than this would outlast their revocation's entry: they are refused. */
  readonly maxTokenLifetimeSeconds: number;
}

/**
 * Beyond the token lifetime an entry is kept this long: the verifiers' clock tolerance (5 s) and
 * the skew between the issuer's clock and ours.
 */
export const REVOCATION_MARGIN_SECONDS = 65;

/**
 * Sessions and API keys whose access tokens are refused, in memory so that checking a token
 * costs a map lookup. A session or key never comes back once revoked, so an entry only has to
 * outlast the tokens issued before the revocation: it is kept for the longest token lifetime
 * (plus a margin) after the revocation, then forgotten.
 */
export class RevocationList implements RevocationCheck {
  /** How long an entry is kept after its revocation. */
  readonly windowMs: number;
  private readonly until = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly maxTokenLifetimeSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.windowMs = (maxTokenLifetimeSeconds + REVOCATION_MARGIN_SECONDS) * 1000;
    this.timer = setInterval(() => this.prune(), Math.min(this.windowMs, 60_000));
    this.timer.unref();
  }

  has(id: string): boolean {
    const until = this.until.get(id);
    return until !== undefined && until > this.now();
  }

  /** Idempotent: the same revocation seen twice (redelivery, reload, poll) changes nothing. */
  add(id: string, revokedAt: Date | string | number = this.now()): void {
    const until = new Date(revokedAt).getTime() + this.windowMs;
    if (!(until > this.now())) return;
    this.until.set(id, Math.max(until, this.until.get(id) ?? 0));
  }

  get size(): number {
    return this.until.size;
  }

  prune(now = this.now()): void {
    for (const [id, until] of this.until) if (until <= now) this.until.delete(id);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
