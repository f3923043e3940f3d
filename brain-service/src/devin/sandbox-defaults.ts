/**
 * The key the local sandbox accepts when none is configured, and the key the brain sends when
 * DEVIN_API_KEY is unset outside production: a local stand-in, not a secret.
 */
export const SANDBOX_DEVIN_API_KEY = 'sandbox-devin-key';

/** Where `npm start` runs the sandbox (DEVIN_SANDBOX_PORT) and the brain looks for it. */
export const SANDBOX_DEVIN_PORT = 3102;
