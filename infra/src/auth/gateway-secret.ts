import { createHash, timingSafeEqual } from 'node:crypto';

/** The header the gateway's auth_request subrequest carries (GATEWAY_SHARED_SECRET). */
export const GATEWAY_SECRET_HEADER = 'x-gateway-secret';

/**
 * Recognises the gateway by a secret it shares with the service, compared in constant time.
 * Both sides are hashed first so the comparison takes the same time whatever the length sent.
 * Without a configured secret nobody is the gateway: the endpoints it guards stay closed.
 * A previous secret may be accepted beside the current one while the gateways are moved over
 * (rotation without refusing anyone).
 */
export class GatewaySecret {
  private readonly expected: Buffer[];

  constructor(...secrets: (string | undefined)[]) {
    this.expected = secrets.filter((s): s is string => !!s).map(digest);
  }

  get configured(): boolean {
    return this.expected.length > 0;
  }

  matches(presented: string | string[] | undefined): boolean {
    if (typeof presented !== 'string' || !presented) return false;
    const sent = digest(presented);
    // Every configured secret is compared, so the time taken does not tell which one matched.
    let found = false;
    for (const expected of this.expected) found = timingSafeEqual(sent, expected) || found;
    return found;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
