import { type Request } from 'express';

export type Role = 'user' | 'admin';

/** Who is calling, as proven by a verified access token. */
export interface Principal {
  userId: string;
  role: Role;
  sessionId: string;
  /**
   * Set when the token was minted by /auth/verify in exchange for an API key (claim `akid`):
   * such a caller holds a key, not a session, and revoking the key revokes the token.
   */
  apiKeyId?: string;
  /** The raw access token, for calls made on the caller's behalf. */
  token: string;
}

/** Turns a request's credentials into a principal, or null when there are none or they are bad. */
export interface Authenticator {
  authenticate(req: Request): Promise<Principal | null>;
}

export function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
