import { z } from 'zod';
import { env } from '../config/load-config';

/**
 * The mail settings of a service that sends mail (user-service, payment-service). Spread into
 * its config schema; documented in .env.example. The defaults reach the local SMTP server that
 * `npm start` runs (scripts/src/lib/smtp-server.ts).
 */
export const mailConfig = {
  /** smtp://host:port (plain, STARTTLS when offered) or smtps://host:port (TLS from the start). */
  SMTP_URL: env.url('smtp://127.0.0.1:2525'),
  /** Unset: no AUTH. Never logged. */
  SMTP_USER: z.string().min(1).optional(),
  SMTP_PASSWORD: z.string().min(1).optional(),
  MAIL_FROM: z
    .string()
    .min(3)
    .max(200)
    .regex(/@/, 'expected an address such as "Meet Matt <no-reply@example.com>"')
    .default('Meet Matt <no-reply@meetmatt.local>'),
  /** Where the links in mails point (the web app). */
  MAIL_APP_URL: env.url('http://localhost:5173'),
  SMTP_CONNECT_TIMEOUT_MS: env.int(10_000, 100),
  SMTP_GREETING_TIMEOUT_MS: env.int(10_000, 100),
  SMTP_SOCKET_TIMEOUT_MS: env.int(30_000, 100),
  /** How often the sender looks for mails due (it is also woken when one is queued here). */
  MAIL_POLL_INTERVAL_MS: env.int(2_000, 10),
  /** First and last pause between the attempts at one mail (full jitter, doubling). */
  MAIL_RETRY_MIN_MS: env.int(1_000, 10),
  MAIL_RETRY_MAX_MS: env.int(600_000, 10),
  /** Attempts before a mail is given up (recorded as failed, logged). */
  MAIL_MAX_ATTEMPTS: env.int(12, 1),
};

export type MailConfig = z.infer<z.ZodObject<typeof mailConfig>>;
