import { createHash, timingSafeEqual } from 'node:crypto';

/** The header the gateway's auth_request subrequest carries (GATEWAY_SHARED_SECRET). */
export const GATEWAY_SECRET_HEADER = 'x-gateway-secret';

/**
 * Recognises the gateway by a secret it shares with the service, compared in constant time.
 * Both sides are hashed first so the comparison takes the same time whatever the length sent.
 * Without a configured secret nobody is the gateway: the endpoints it guards stay closed.
 */
export class GatewaySecret {
  private readonly expected: Buffer | undefined;

  constructor(secret: string | undefined) {
    this.expected = secret ? digest(secret) : undefined;
  }

  get configured(): boolean {
    return this.expected !== undefined;
  }

  matches(presented: string | string[] | undefined): boolean {
    if (!this.expected || typeof presented !== 'string' || !presented) return false;
    return timingSafeEqual(digest(presented), this.expected);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
