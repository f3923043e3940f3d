import { z } from 'zod';
import { BillingDetailsSchema } from '../billing';
import { IdSchema, RoleSchema, TimestampSchema } from '../common';
import { type EventUnion, defineEvent } from '../events';

/** Notification channels a user can turn on or off. */
export const NotificationChannelSchema = z
  .enum(['in_app', 'email'])
  .describe('Where notifications go');

export const PreferencesSchema = z
  .object({
    notificationChannels: z
      .array(NotificationChannelSchema)
      .max(2)
      .describe('Channels notifications are delivered to; in_app is what GET /notifications shows'),
    notifyOn: z
      .object({
        paymentConfirmed: z.boolean(),
        paymentFailed: z.boolean().describe('Also covers expired and partially paid'),
        agentDeployed: z.boolean(),
        agentFailed: z.boolean(),
      })
      .describe('Which kinds of notification the user wants'),
    defaultPayCurrency: z
      .string()
      .regex(/^[a-z0-9]{2,20}$/, 'expected a lower-case crypto ticker')
      .nullable()
      .describe('Pre-selected crypto at checkout'),
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_+\-/]+$/, 'expected an IANA time zone such as Europe/Paris')
      .describe('IANA time zone, e.g. Europe/Paris'),
    locale: z
      .string()
      .regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'expected a locale such as en or en-GB')
      .describe('Locale'),
  })
  .meta({ id: 'Preferences' });
export type Preferences = z.infer<typeof PreferencesSchema>;

export const defaultPreferences: Preferences = {
  notificationChannels: ['in_app'],
  notifyOn: { paymentConfirmed: true, paymentFailed: true, agentDeployed: true, agentFailed: true },
  defaultPayCurrency: null,
  timeZone: 'UTC',
  locale: 'en',
};

/** What a notification is about: the bus event it was made from. */
export const NotificationKindSchema = z
  .enum([
    'payment.confirmed',
    'payment.failed',
    'payment.expired',
    'payment.partially-paid',
    'agent.deployed',
    'agent.deploy-failed',
  ])
  .describe('The event the notification tells the user about');
export type NotificationKind = z.infer<typeof NotificationKindSchema>;

const userId = IdSchema.describe('The user');

/**
 * The user service's events. None carries a password, a hash or a token: those live in tables
 * of their own (credentials, refresh tokens, API-key hashes), never in the immutable log.
 *
 * Streams: `user-<userId>` (registered, profile, preferences: its revision is the profile's
 * ETag), `user-email-<sha256 of the normalised email>` (the reservation that makes emails
 * unique), `user-session-<sessionId>`, `user-apikey-<keyId>`, `user-notification-<id>` (the id
 * derived from the bus event it was made from, so a redelivery finds the stream there).
 */
export const userEvents = {
  emailReserved: defineEvent(
    'user.email-reserved',
    z.object({
      email: z.string().describe('Normalised (trimmed, lower case)'),
      userId,
      reservedAt: TimestampSchema,
    }),
    {
      description:
        'An email was claimed, in its own stream appended with no_stream: unique by construction',
    },
  ),
  emailReleased: defineEvent(
    'user.email-released',
    z.object({ email: z.string(), userId, releasedAt: TimestampSchema }),
    { description: 'A user moved to another email; this one is free again' },
  ),
  registered: defineEvent(
    'user.registered',
    z.object({
      userId,
      email: z.string(),
      displayName: z.string(),
      role: RoleSchema,
      registeredAt: TimestampSchema,
    }),
    { description: 'A user signed up' },
  ),
  profileUpdated: defineEvent(
    'user.profile-updated',
    z.object({
      userId,
      displayName: z.string().optional(),
      email: z.string().optional(),
      updatedAt: TimestampSchema,
    }),
    { description: 'Display name and/or email changed' },
  ),
  billingDetailsChanged: defineEvent(
    'user.billing-details-changed',
    z.object({
      userId,
      billing: BillingDetailsSchema.nullable().describe('The details from now on; null: removed'),
      changedAt: TimestampSchema,
    }),
    {
      description:
        'The buyer’s billing details (name, address, country, tax number) changed; invoices issued from now on print them',
    },
  ),
  roleChanged: defineEvent(
    'user.role-changed',
    z.object({
      userId,
      role: RoleSchema.describe('The role from now on'),
      previousRole: RoleSchema,
      operator: z.string().min(1).max(128).describe('Who ran the command ($USER or --operator)'),
      changedAt: TimestampSchema,
    }),
    {
      description:
        'An operator granted or revoked the admin role (meetmatt users grant-admin / revoke-admin): the only way a role changes',
    },
  ),
  passwordChanged: defineEvent(
    'user.password-changed',
    z.object({ userId, changedAt: TimestampSchema }),
    {
      description:
        'The user set a new password (PUT /auth/password); the hash lives only in the credentials table, and their other sessions were ended',
    },
  ),
  preferencesUpdated: defineEvent(
    'user.preferences-updated',
    z.object({ userId, preferences: PreferencesSchema, updatedAt: TimestampSchema }),
    { description: 'Notification channels, default pay currency, time zone or locale changed' },
  ),
  emailVerificationRequested: defineEvent(
    'user.email-verification-requested',
    z.object({
      userId,
      email: z.string().describe('The address to prove (normalised)'),
      requestId: IdSchema.describe('This request; the mail’s token is derived from it'),
      tokenHash: z
        .string()
        .describe('SHA-256 (hex) of the token; the token itself is only in the mail'),
      expiresAt: TimestampSchema,
      requestedAt: TimestampSchema,
    }),
    {
      description:
        'A mail with a single-use link was asked for, to prove the user owns the address',
    },
  ),
  emailVerified: defineEvent(
    'user.email-verified',
    z.object({ userId, email: z.string(), requestId: IdSchema, verifiedAt: TimestampSchema }),
    { description: 'The user followed the link (POST /auth/verify-email): the address is theirs' },
  ),
  passwordResetRequested: defineEvent(
    'user.password-reset-requested',
    z.object({
      userId,
      requestId: IdSchema.describe('This request; the mail’s token is derived from it'),
      tokenHash: z
        .string()
        .describe('SHA-256 (hex) of the token; the token itself is only in the mail'),
      expiresAt: TimestampSchema,
      requestedAt: TimestampSchema,
    }),
    {
      description:
        'Someone asked for a password reset mail for this account (POST /auth/password-reset)',
    },
  ),
  passwordResetCompleted: defineEvent(
    'user.password-reset-completed',
    z.object({ userId, requestId: IdSchema, completedAt: TimestampSchema }),
    {
      description:
        'A reset token was used (POST /auth/password-reset/confirm): a new password, every session ended, every other reset token void',
    },
  ),
  sessionStarted: defineEvent(
    'user.session-started',
    z.object({
      userId,
      sessionId: IdSchema,
      userAgent: z.string().nullable().describe('User-Agent of the login, cut to 256 characters'),
      ip: z.string().nullable().describe('Client address of the login'),
      startedAt: TimestampSchema,
    }),
    { description: 'A login or registration opened a session' },
  ),
  sessionRevoked: defineEvent(
    'user.session-revoked',
    z.object({
      userId,
      sessionId: IdSchema,
      reason: z
        .enum(['logout', 'revoked', 'refresh-token-reuse', 'logout-all', 'password-reset'])
        .describe(
          'logout: POST /auth/logout; revoked: DELETE /auth/sessions/:id; refresh-token-reuse: a used refresh token came back; logout-all: {all: true}; password-reset: a reset token was used',
        ),
      revokedAt: TimestampSchema,
    }),
    { description: 'A session ended; its access tokens are refused from now on' },
  ),
  sessionPasswordConfirmed: defineEvent(
    'user.session-password-confirmed',
    z.object({ userId, sessionId: IdSchema, confirmedAt: TimestampSchema }),
    {
      description:
        'The session’s user typed their password again (POST /auth/confirm-password): it may manage credentials for a few minutes',
    },
  ),
  apiKeyCreated: defineEvent(
    'user.api-key-created',
    z.object({
      userId,
      keyId: IdSchema,
      name: z.string(),
      prefix: z.string().describe('The public part of the key, shown in lists'),
      expiresAt: TimestampSchema.nullable(),
      createdAt: TimestampSchema,
    }),
    { description: 'An API key was issued (its secret is shown once and stored only as a hash)' },
  ),
  apiKeyRevoked: defineEvent(
    'user.api-key-revoked',
    z.object({ userId, keyId: IdSchema, revokedAt: TimestampSchema }),
    { description: 'An API key stops working at once' },
  ),
  notificationCreated: defineEvent(
    'user.notification-created',
    z.object({
      notificationId: IdSchema.describe('Derived from the source event id'),
      userId,
      kind: NotificationKindSchema,
      title: z.string(),
      body: z.string(),
      link: z.string().nullable().describe('Where in the app to look'),
      correlationId: z.string().nullable().describe('The journey it belongs to'),
      sourceEventId: z.string().describe('The id of the bus event it was made from'),
      createdAt: TimestampSchema,
    }),
    { description: 'A notification for the user, made from a payment or agent event' },
  ),
  notificationRead: defineEvent(
    'user.notification-read',
    z.object({ notificationId: IdSchema, userId, readAt: TimestampSchema }),
    { description: 'The user marked a notification read' },
  ),
};

export type UserEvent = EventUnion<typeof userEvents>;
export const userEventTypes = Object.fromEntries(
  Object.entries(userEvents).map(([k, v]) => [k, v.type]),
) as { [K in keyof typeof userEvents]: (typeof userEvents)[K]['type'] };
