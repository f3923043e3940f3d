import { z } from 'zod';
import { BillingDetailsSchema } from '../billing';
import { FiatCurrencySchema, IdSchema, RoleSchema, TimestampSchema } from '../common';
import { type EndpointDef, ProblemSchema, defineEndpoint, problems } from '../http';
import { buildOpenApiDocument } from '../openapi';
import { NotificationKindSchema, PreferencesSchema } from './events';
import { streamTicketEndpoints } from './stream-ticket';

/** 503: every password-hashing slot is busy; Retry-After says when to come back. */
const hashingBusy = {
  description: 'Password hashing is at capacity: try again after Retry-After',
  schema: ProblemSchema,
  contentType: 'application/problem+json',
};

/** 403: an API key, or a session whose password was not checked recently. */
const credentialsManagement = {
  ...problems[403],
  description:
    'Needs a session (not an API key) whose password was checked in the last few minutes: POST /auth/confirm-password',
};

/** 428: a conditional request without its condition (If-Match on PUT /users/:id). */
const preconditionRequired = {
  description: 'If-Match is required: send the ETag of GET /users/:id',
  schema: ProblemSchema,
  contentType: 'application/problem+json',
};

/** 403: an operator reads other users' resources but does not change them. */
const operatorChange = {
  ...problems[403],
  description: 'An operator may read another user’s resources but not change them',
};

const email = z
  .email({ message: 'expected an email address' })
  .max(254)
  .describe('Email address (unique, case-insensitive)');
const password = z
  .string()
  .min(12, 'must be at least 12 characters')
  .max(256, 'must be at most 256 characters')
  .describe('At least 12 characters');
/**
 * Text a person types: no NUL and no other control characters (PostgreSQL refuses NUL in text
 * and jsonb, and a control character in a name is never meant). Everything that is stored goes
 * through it.
 */
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    // eslint-disable-next-line no-control-regex -- control characters are what it refuses
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters (such as NUL)');
const displayName = text(80).describe('Name shown in the app');

export const UserSchema = z
  .object({
    id: IdSchema,
    email: z.string(),
    displayName: z.string(),
    role: RoleSchema,
    createdAt: TimestampSchema,
    billing: BillingDetailsSchema.nullable().describe(
      'Billing details printed on invoices and credit notes; null until given',
    ),
  })
  .meta({ id: 'User' });

export const TokensSchema = z.object({
  accessToken: z.string().describe('JWT (EdDSA), 15 minutes; send as Authorization: Bearer'),
  refreshToken: z.string().describe('Opaque; single use: POST /auth/refresh returns a new one'),
  expiresIn: z.number().int().describe('Seconds until the access token expires'),
});

export const RegisterRequestSchema = z
  .object({ email, password, displayName: displayName.optional() })
  .meta({ id: 'RegisterRequest' });
export const LoginRequestSchema = z
  .object({ email, password: z.string().min(1).max(256).describe('The password') })
  .meta({ id: 'LoginRequest' });
export const AuthResponseSchema = TokensSchema.extend({ user: UserSchema }).meta({
  id: 'AuthResponse',
});
export const RefreshRequestSchema = z
  .object({
    refreshToken: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[A-Za-z0-9_-]+$/, 'expected a refresh token (base64url)')
      .describe('The refresh token last received'),
  })
  .meta({ id: 'RefreshRequest' });
export const LogoutRequestSchema = z
  .object({
    all: z.boolean().default(false).describe('End every session of the user, not only this one'),
  })
  .meta({ id: 'LogoutRequest' });

export const ConfirmPasswordRequestSchema = z
  .object({ password: z.string().min(1).max(256).describe('Your password') })
  .meta({ id: 'ConfirmPasswordRequest' });

export const ChangePasswordRequestSchema = z
  .object({
    currentPassword: z.string().min(1).max(256).describe('Your password now'),
    newPassword: password.describe('The new password: at least 12 characters'),
  })
  .meta({ id: 'ChangePasswordRequest' });

const mailedToken = z
  .string()
  .regex(
    /^[0-9a-f-]{36}\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/,
    'expected the token from the link in the mail',
  )
  .describe('The token from the link in the mail (single use, expires)');

export const VerifyEmailRequestSchema = z
  .object({ token: mailedToken })
  .meta({ id: 'VerifyEmailRequest' });

export const PasswordResetRequestSchema = z
  .object({ email: email.describe('The address of the account') })
  .meta({ id: 'PasswordResetRequest' });

export const PasswordResetConfirmRequestSchema = z
  .object({
    token: mailedToken,
    newPassword: password.describe('The new password: at least 12 characters'),
  })
  .meta({ id: 'PasswordResetConfirmRequest' });

export const SessionSchema = z
  .object({
    id: IdSchema,
    createdAt: TimestampSchema,
    lastUsedAt: TimestampSchema,
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    current: z.boolean().describe('The session of the token making this request'),
  })
  .meta({ id: 'Session' });

export const UserParamsSchema = z.object({ id: IdSchema.describe('User id') });

export const UpdateUserRequestSchema = z
  .object({
    displayName: displayName.optional(),
    email: email.optional(),
    currentPassword: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe(
        'Your password, to change the email when this session has not confirmed it in the last few minutes',
      ),
    billing: BillingDetailsSchema.nullable()
      .optional()
      .describe(
        'Billing details for invoices issued from now on (already issued ones keep theirs); null removes them',
      ),
  })
  .refine((v) => v.displayName !== undefined || v.email !== undefined || v.billing !== undefined, {
    message: 'give displayName, email or billing',
  })
  .meta({ id: 'UpdateUserRequest' });

export const ApiKeySchema = z
  .object({
    id: IdSchema,
    name: z.string(),
    prefix: z.string().describe('Identifies the key; the secret is never shown again'),
    createdAt: TimestampSchema,
    lastUsedAt: TimestampSchema.nullable(),
    expiresAt: TimestampSchema.nullable(),
  })
  .meta({ id: 'ApiKey' });
export const CreateApiKeyRequestSchema = z
  .object({
    name: text(80).describe('What the key is for'),
    expiresAt: z.iso
      .datetime({ offset: true, message: 'expected an ISO 8601 date-time' })
      .refine(storableInstant, 'expected a date-time between 1970 and 9999 (UTC)')
      .optional()
      .describe('When it stops working (at most 2 years ahead); never when absent'),
  })
  .meta({ id: 'CreateApiKeyRequest' });
export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().describe('mm_<prefix>_<secret>: shown this once, store it now'),
}).meta({ id: 'CreatedApiKey' });

/**
 * Within what a date column holds and a person means: an offset can push
 * `9999-12-31T23:59:59-23:59` into year 10000, and day arithmetic on year 1 leaves the calendar.
 */
function storableInstant(value: string): boolean {
  const year = new Date(value).getUTCFullYear();
  return year >= 1970 && year <= 9999;
}

const usageDay = z.iso
  .date({ message: 'expected a date (YYYY-MM-DD)' })
  .refine((day) => day >= '2000-01-01' && day <= '9999-12-31', 'expected a date from 2000 to 9999');

/** The longest period GET /users/:id/usage answers for. */
export const USAGE_MAX_DAYS = 366;

export const UsageQuerySchema = z
  .object({
    from: usageDay.optional().describe('First day (UTC), default 29 days before `to`'),
    to: usageDay.optional().describe('Last day (UTC), inclusive, default today'),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, {
    message: 'must not be before from',
    path: ['to'],
  })
  .refine(
    (q) => !q.from || !q.to || Date.parse(q.to) - Date.parse(q.from) < USAGE_MAX_DAYS * 86_400_000,
    { message: `the period is at most ${USAGE_MAX_DAYS} days`, path: ['to'] },
  );
export const UsageSchema = z
  .object({
    from: z.string().describe('First day (UTC)'),
    to: z.string().describe('Last day (UTC), inclusive'),
    apiRequests: z
      .object({
        total: z.number().int(),
        byDay: z
          .array(z.object({ day: z.string(), count: z.number().int() }))
          .describe('Days with at least one request, in order'),
      })
      .describe('Requests authenticated by /auth/verify (JWT or API key)'),
    payments: z.object({
      count: z.number().int().describe('Payments opened'),
      confirmed: z.number().int().describe('Payments confirmed'),
      failed: z.number().int().describe('Payments failed, expired or partially paid'),
      amountByCurrency: z
        .array(z.object({ currency: FiatCurrencySchema, amount: z.number() }))
        .describe('Confirmed amounts'),
    }),
    agents: z.object({
      deployed: z.number().int().describe('Builds that deployed'),
      failed: z.number().int().describe('Builds that failed for good'),
      rebuilds: z.number().int().describe('Rebuilds asked for'),
    }),
  })
  .meta({ id: 'Usage' });

export const NotificationSchema = z
  .object({
    id: IdSchema,
    kind: NotificationKindSchema,
    title: z.string(),
    body: z.string(),
    link: z.string().nullable().describe('Where in the app to look'),
    correlationId: z.string().nullable().describe('The journey it belongs to'),
    read: z.boolean(),
    createdAt: TimestampSchema,
  })
  .meta({ id: 'Notification' });
export const NotificationsQuerySchema = z.object({
  unread: z.enum(['true', 'false']).optional().describe('true: only unread ones'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(50)
    .describe('At most this many, newest first'),
});

export const VerifyHeaders = {
  'X-User-Id': 'The caller',
  'X-User-Role': 'user or admin',
  'X-Access-Token': 'For an API key: a short-lived JWT the gateway forwards instead',
};

const auth = ['auth'];
const users = ['users'];
const userParams = UserParamsSchema;

export const userEndpoints = {
  register: defineEndpoint({
    operationId: 'register',
    method: 'post',
    path: '/auth/register',
    summary: 'Sign up',
    tags: auth,
    auth: 'none',
    body: RegisterRequestSchema,
    responses: {
      201: { description: 'Registered and signed in', schema: AuthResponseSchema },
      400: problems[400],
      409: problems[409],
      429: {
        ...problems[429],
        description: 'Too many sign-ups from this address or for this email',
      },
      503: hashingBusy,
    },
  }),
  login: defineEndpoint({
    operationId: 'login',
    method: 'post',
    path: '/auth/login',
    summary: 'Sign in',
    description:
      'A wrong email and a wrong password get the same 401. After repeated failures for one email, 429 with Retry-After until the delay has passed.',
    tags: auth,
    auth: 'none',
    body: LoginRequestSchema,
    responses: {
      200: { description: 'Signed in', schema: AuthResponseSchema },
      400: problems[400],
      401: problems[401],
      429: problems[429],
      503: hashingBusy,
    },
  }),
  refresh: defineEndpoint({
    operationId: 'refresh',
    method: 'post',
    path: '/auth/refresh',
    summary: 'Trade a refresh token for new tokens (a used one revokes the session)',
    tags: auth,
    auth: 'none',
    body: RefreshRequestSchema,
    responses: {
      200: { description: 'New tokens', schema: AuthResponseSchema },
      400: problems[400],
      401: problems[401],
    },
  }),
  logout: defineEndpoint({
    operationId: 'logout',
    apiKeys: false,
    method: 'post',
    path: '/auth/logout',
    summary: 'End this session, or every session with {all: true}',
    tags: auth,
    auth: 'user',
    body: LogoutRequestSchema,
    responses: {
      204: { description: 'Signed out' },
      401: problems[401],
      403: credentialsManagement,
    },
  }),
  confirmPassword: defineEndpoint({
    operationId: 'confirmPassword',
    apiKeys: false,
    method: 'post',
    path: '/auth/confirm-password',
    summary: 'Type your password again, so this session may manage credentials for a while',
    description:
      'Creating API keys, changing the email and ending sessions need a session whose password was checked in the last few minutes (RECENT_AUTH_MAX_AGE_MS). API keys cannot.',
    tags: auth,
    auth: 'user',
    body: ConfirmPasswordRequestSchema,
    responses: {
      204: { description: 'Confirmed' },
      400: problems[400],
      401: problems[401],
      403: { ...problems[403], description: 'Wrong password, or not a session (an API key)' },
      429: problems[429],
    },
  }),
  changePassword: defineEndpoint({
    operationId: 'changePassword',
    apiKeys: false,
    method: 'put',
    path: '/auth/password',
    summary: 'Set a new password; your other sessions end',
    description:
      'Needs a signed-in session (API keys cannot) and the current password, whatever the session’s age.',
    tags: auth,
    auth: 'user',
    body: ChangePasswordRequestSchema,
    responses: {
      204: { description: 'Changed' },
      400: problems[400],
      401: problems[401],
      403: {
        ...problems[403],
        description: 'Wrong current password, or not a session (an API key)',
      },
      429: problems[429],
      503: hashingBusy,
    },
  }),
  verifyEmail: defineEndpoint({
    operationId: 'verifyEmail',
    method: 'post',
    path: '/auth/verify-email',
    summary: 'Prove your email with the link mailed at sign-up',
    description:
      'The token is single use and expires (EMAIL_VERIFICATION_TTL_MS). Used: 410 token-used; expired: 410 token-expired; not ours: 400 naming token.',
    tags: auth,
    auth: 'none',
    body: VerifyEmailRequestSchema,
    responses: {
      204: { description: 'Verified' },
      400: problems[400],
      410: { ...problems[409], description: 'The link was used already, or has expired' },
      429: problems[429],
    },
  }),
  requestPasswordReset: defineEndpoint({
    operationId: 'requestPasswordReset',
    method: 'post',
    path: '/auth/password-reset',
    summary: 'Mail a password reset link',
    description:
      'Always 202, whether or not an account has this address (no account enumeration); the mail goes only to an account’s own address. Rate limited per client address and per email.',
    tags: auth,
    auth: 'none',
    body: PasswordResetRequestSchema,
    responses: {
      202: { description: 'If an account has this address, a link is on its way' },
      400: problems[400],
      429: problems[429],
    },
  }),
  confirmPasswordReset: defineEndpoint({
    operationId: 'confirmPasswordReset',
    method: 'post',
    path: '/auth/password-reset/confirm',
    summary: 'Set a new password with the mailed link; every session ends',
    description:
      'The token works once (PASSWORD_RESET_TTL_MS); a later reset or password change voids older links. Used: 410 token-used; expired: 410 token-expired; not ours: 400 naming token.',
    tags: auth,
    auth: 'none',
    body: PasswordResetConfirmRequestSchema,
    responses: {
      204: { description: 'The new password is set; every session of the account has ended' },
      400: problems[400],
      410: { ...problems[409], description: 'The link was used already, or has expired' },
      429: problems[429],
      503: hashingBusy,
    },
  }),
  listSessions: defineEndpoint({
    operationId: 'listSessions',
    method: 'get',
    path: '/auth/sessions',
    summary: 'Your live sessions',
    tags: auth,
    auth: 'user',
    responses: {
      200: {
        description: 'Sessions',
        schema: z.object({ sessions: z.array(SessionSchema) }).meta({ id: 'SessionList' }),
      },
    },
  }),
  revokeSession: defineEndpoint({
    operationId: 'revokeSession',
    apiKeys: false,
    method: 'delete',
    path: '/auth/sessions/:id',
    summary: 'End one of your sessions',
    tags: auth,
    auth: 'user',
    params: z.object({ id: IdSchema.describe('Session id') }),
    responses: {
      204: { description: 'Revoked' },
      403: credentialsManagement,
      404: problems[404],
    },
  }),
  verify: defineEndpoint({
    operationId: 'verify',
    method: 'get',
    path: '/auth/verify',
    summary: 'For the gateway (auth_request): who is calling, from a JWT or an API key',
    description:
      'No database round trip for a valid JWT; API keys are looked up and cached briefly. Counts the request for usage. Answers only the gateway: without its shared secret, 404 and no token.',
    tags: auth,
    auth: 'none',
    headers: {
      Authorization: 'Bearer <jwt> or Bearer mm_…',
      'X-Api-Key': 'mm_… (alternative)',
      'X-Gateway-Secret': 'The secret the gateway shares with user-service (GATEWAY_SHARED_SECRET)',
    },
    responses: {
      200: { description: 'Valid; identity in the headers', headers: VerifyHeaders },
      401: problems[401],
      404: problems[404],
    },
  }),
  jwks: defineEndpoint({
    operationId: 'jwks',
    method: 'get',
    path: '/.well-known/jwks.json',
    summary: 'Public keys that sign access tokens',
    tags: auth,
    auth: 'none',
    responses: {
      200: {
        description: 'JSON Web Key Set',
        schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).meta({ id: 'Jwks' }),
      },
    },
  }),
  getUser: defineEndpoint({
    operationId: 'getUser',
    method: 'get',
    path: '/users/:id',
    summary: 'A profile (your own; operators any); ETag carries the revision',
    tags: users,
    auth: 'user',
    params: userParams,
    responses: {
      200: {
        description: 'Profile',
        schema: UserSchema,
        headers: { ETag: 'The profile revision, for If-Match' },
      },
      404: problems[404],
    },
  }),
  updateUser: defineEndpoint({
    operationId: 'updateUser',
    method: 'put',
    path: '/users/:id',
    summary:
      'Change your display name, email or billing details; If-Match with the ETag of the GET',
    tags: users,
    auth: 'user',
    params: userParams,
    headers: {
      'If-Match': 'Required: the ETag from GET /users/:id; 412 when stale, 428 when absent',
    },
    requiredHeaders: ['If-Match'],
    body: UpdateUserRequestSchema,
    responses: {
      200: {
        description: 'Updated',
        schema: UserSchema,
        headers: { ETag: 'The new revision' },
      },
      400: problems[400],
      403: credentialsManagement,
      404: problems[404],
      409: { ...problems[409], description: 'The new email belongs to another account' },
      412: problems[412],
      428: preconditionRequired,
    },
  }),
  getUsage: defineEndpoint({
    operationId: 'getUsage',
    method: 'get',
    path: '/users/:id/usage',
    summary: 'API requests per day, payments and agents',
    tags: users,
    auth: 'user',
    params: userParams,
    query: UsageQuerySchema,
    responses: {
      200: { description: 'Usage', schema: UsageSchema },
      400: problems[400],
      404: problems[404],
    },
  }),
  getPreferences: defineEndpoint({
    operationId: 'getPreferences',
    method: 'get',
    path: '/users/:id/preferences',
    summary: 'Your preferences',
    tags: users,
    auth: 'user',
    params: userParams,
    responses: {
      200: {
        description: 'Preferences',
        schema: PreferencesSchema,
        headers: { ETag: 'The profile revision, for If-Match' },
      },
      404: problems[404],
    },
  }),
  updatePreferences: defineEndpoint({
    operationId: 'updatePreferences',
    method: 'put',
    path: '/users/:id/preferences',
    summary: 'Replace your preferences',
    tags: users,
    auth: 'user',
    params: userParams,
    headers: { 'If-Match': 'Optional: the ETag of a GET; 412 when stale' },
    body: PreferencesSchema,
    responses: {
      200: {
        description: 'Preferences',
        schema: PreferencesSchema,
        headers: { ETag: 'The new revision' },
      },
      400: problems[400],
      403: operatorChange,
      404: problems[404],
      412: problems[412],
    },
  }),
  listApiKeys: defineEndpoint({
    operationId: 'listApiKeys',
    method: 'get',
    path: '/users/:id/api-keys',
    summary: 'Your API keys (never their secrets)',
    tags: users,
    auth: 'user',
    params: userParams,
    responses: {
      200: {
        description: 'Keys',
        schema: z.object({ keys: z.array(ApiKeySchema) }).meta({ id: 'ApiKeyList' }),
      },
      404: problems[404],
    },
  }),
  createApiKey: defineEndpoint({
    operationId: 'createApiKey',
    apiKeys: false,
    method: 'post',
    path: '/users/:id/api-keys',
    summary: 'Issue an API key; the secret is in this answer only',
    tags: users,
    auth: 'user',
    params: userParams,
    body: CreateApiKeyRequestSchema,
    responses: {
      201: { description: 'Created', schema: CreatedApiKeySchema },
      400: problems[400],
      403: credentialsManagement,
      404: problems[404],
    },
  }),
  revokeApiKey: defineEndpoint({
    operationId: 'revokeApiKey',
    method: 'delete',
    path: '/users/:id/api-keys/:keyId',
    summary: 'Revoke an API key at once',
    tags: users,
    auth: 'user',
    params: z.object({ id: IdSchema.describe('User id'), keyId: IdSchema.describe('Key id') }),
    responses: { 204: { description: 'Revoked' }, 403: operatorChange, 404: problems[404] },
  }),
  listNotifications: defineEndpoint({
    operationId: 'listNotifications',
    method: 'get',
    path: '/users/:id/notifications',
    summary: 'Your notifications, newest first',
    tags: users,
    auth: 'user',
    params: userParams,
    query: NotificationsQuerySchema,
    responses: {
      200: {
        description: 'Notifications',
        schema: z
          .object({ notifications: z.array(NotificationSchema), unread: z.number().int() })
          .meta({ id: 'NotificationList' }),
      },
      404: problems[404],
    },
  }),
  notificationStream: defineEndpoint({
    operationId: 'notificationStream',
    method: 'get',
    path: '/users/:id/notifications/stream',
    summary: 'Server-Sent Events: each new notification as it arrives',
    tags: users,
    auth: 'user',
    params: userParams,
    headers: { 'Last-Event-ID': 'The id of the last notification received, to resume after it' },
    responses: {
      200: {
        description:
          'text/event-stream: event "notification" with a Notification as data and its id as the event id; a ": heartbeat" comment periodically; Last-Event-ID replays what came after it. The stream ends when the access token expires or its session is revoked: reconnect with a fresh token.',
        contentType: 'text/event-stream',
      },
      404: problems[404],
    },
  }),
  markNotificationRead: defineEndpoint({
    operationId: 'markNotificationRead',
    method: 'post',
    path: '/users/:id/notifications/:nid/read',
    summary: 'Mark one notification read',
    tags: users,
    auth: 'user',
    params: z.object({
      id: IdSchema.describe('User id'),
      nid: IdSchema.describe('Notification id'),
    }),
    responses: { 204: { description: 'Marked read' }, 403: operatorChange, 404: problems[404] },
  }),
  ...streamTicketEndpoints,
} satisfies Record<string, EndpointDef>;

export function userOpenApi(serverUrl?: string): Record<string, unknown> {
  return buildOpenApiDocument(
    { title: 'Meet Matt user service', version: '0.1.0', ...(serverUrl ? { serverUrl } : {}) },
    Object.values<EndpointDef>(userEndpoints),
  );
}
