/** Defaults of the access tokens user-service signs and every service verifies (AUTH_ISSUER, AUTH_AUDIENCE). */
export const accessTokenDefaults = {
  issuer: 'https://auth.meetmatt.local',
  audience: 'meetmatt-api',
  /** 15 minutes. */
  ttlSeconds: 900,
  /** The access token /auth/verify hands the gateway for an API key: 5 minutes. */
  apiKeyTokenTtlSeconds: 300,
} as const;

/**
 * API keys look like `mm_<prefix>_<secret>`: the prefix (letters and digits) identifies the key
 * and is shown in lists; the secret is stored only as a hash.
 */
export const API_KEY_PATTERN = /^mm_([A-Za-z0-9]{8,16})_([A-Za-z0-9_-]{20,128})$/;
