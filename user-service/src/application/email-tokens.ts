import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { type UserConfig } from '../config';

export type TokenPurpose = 'verify-email' | 'password-reset';

const DEVELOPMENT_SECRET = 'development-only: set EMAIL_TOKEN_SECRET';

/**
 * The key of the link tokens. Tokens are derived, not stored: the event records a request id
 * and the token's hash, and the mailer, rendering the mail from the event, derives the token
 * again. So no table or event ever holds a usable token, and a mail sent twice carries the same link.
 */
export function emailTokenKey(
  config: Pick<UserConfig, 'EMAIL_TOKEN_SECRET' | 'AUTH_SIGNING_KEYS'>,
): string {
  if (config.EMAIL_TOKEN_SECRET) return config.EMAIL_TOKEN_SECRET;
  const signing = config.AUTH_SIGNING_KEYS?.keys[0]?.d;
  return signing ? sha256Hex(`email-token|${signing}`) : DEVELOPMENT_SECRET;
}

/** `<userId>.<requestId>.<mac>`: the user's stream is found from the token alone. */
export function deriveToken(
  key: string,
  purpose: TokenPurpose,
  userId: string,
  requestId: string,
): string {
  const mac = createHmac('sha256', key)
    .update(`${purpose}|${userId}|${requestId}`)
    .digest('base64url');
  return `${userId}.${requestId}.${mac}`;
}

export function tokenHash(token: string): string {
  return sha256Hex(token);
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
export const TOKEN_PATTERN = new RegExp(`^${UUID}\\.${UUID}\\.[A-Za-z0-9_-]{43}$`);

/**
 * The user a token names, when its MAC is right (checked in constant time). The decider then
 * decides on the hash: known, unused, unexpired.
 */
export function tokenUser(key: string, purpose: TokenPurpose, token: string): string | undefined {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  const [userId, requestId] = token.split('.') as [string, string];
  const expected = Buffer.from(deriveToken(key, purpose, userId, requestId));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given) ? userId : undefined;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
