import { createHash } from 'node:crypto';

/** Trimmed, NFC, lower case: the form emails are compared and stored in. */
export function normaliseEmail(email: string): string {
  return email.trim().normalize('NFC').toLowerCase();
}

/** sha256 of the normalised email, hex: names its reservation stream and its login throttle. */
export function emailKey(email: string): string {
  return createHash('sha256').update(normaliseEmail(email)).digest('hex');
}

/** The streams of the user service, `<category>-<id>`. */
export const streams = {
  user: (userId: string) => `user-${userId}`,
  email: (email: string) => `user-email-${emailKey(email)}`,
  session: (sessionId: string) => `user-session-${sessionId}`,
  apiKey: (keyId: string) => `user-apikey-${keyId}`,
  notification: (notificationId: string) => `user-notification-${notificationId}`,
  /** The single-use links mailed to a user (verification, reset): not the profile's stream. */
  accountTokens: (userId: string) => `user-tokens-${userId}`,
};
