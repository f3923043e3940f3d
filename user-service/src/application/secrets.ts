import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** sha256 hex: how refresh tokens and API-key secrets are stored (they are random, not passwords). */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** An opaque refresh token: 256 random bits. */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** An API key `mm_<prefix>_<secret>`: the prefix finds it, the secret (256 bits) proves it. */
export function newApiKey(): { prefix: string; secret: string; key: string } {
  let prefix = '';
  for (let i = 0; i < 12; i++) prefix += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  const secret = randomBytes(32).toString('base64url');
  return { prefix, secret, key: `mm_${prefix}_${secret}` };
}

/** A UUID derived from a name (version 8: sha256-based), for ids that must repeat on redelivery. */
export function deterministicUuid(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
