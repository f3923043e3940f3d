/** Defaults of the access tokens user-service signs and every service verifies (AUTH_ISSUER, AUTH_AUDIENCE). */
export const accessTokenDefaults = {
  issuer: 'https://auth.meetmatt.local',
  audience: 'meetmatt-api',
  /** 15 minutes. */
  ttlSeconds: 900,
} as const;

/** API keys look like `mm_<prefix>_<secret>`. */
export const API_KEY_PATTERN = /^mm_([A-Za-z0-9]{8,16})_([A-Za-z0-9_-]{20,128})$/;
