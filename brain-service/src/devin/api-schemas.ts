import { z } from 'zod';

/**
 * Devin API v1 on the wire, in Devin's own (snake_case) vocabulary, shared by the client (to
 * parse what Devin answers) and the sandbox (to parse what it is sent). Response schemas are
 * lenient on purpose: unknown fields are dropped, statuses stay free strings (Devin adds values
 * without notice), and the fields Devin documents as nullable are normalised to one shape.
 */

/** The `status_enum` values Devin documents today; others may appear and are kept as strings. */
export const knownStatusEnums = [
  'working',
  'blocked',
  'finished',
  'expired',
  'suspend_requested',
  'suspend_requested_frontend',
  'resume_requested',
  'resume_requested_frontend',
  'resumed',
] as const;
export type KnownStatusEnum = (typeof knownStatusEnums)[number];

export const CreateSessionRequestSchema = z.object({
  prompt: z.string().min(1),
  idempotent: z.boolean().nullish(),
  title: z.string().nullish(),
  tags: z.array(z.string()).nullish(),
  snapshot_id: z.string().nullish(),
  playbook_id: z.string().nullish(),
  max_acu_limit: z.number().int().positive().nullish(),
  secret_ids: z.array(z.string()).nullish(),
  knowledge_ids: z.array(z.string()).nullish(),
  unlisted: z.boolean().nullish(),
  structured_output_schema: z.record(z.string(), z.unknown()).nullish(),
});
export type CreateSessionRequest = z.input<typeof CreateSessionRequestSchema>;

export const SendMessageRequestSchema = z.object({ message: z.string().min(1) });

export const CreatedSessionSchema = z.object({
  session_id: z.string().min(1),
  url: z.string(),
  /** Only sent for idempotent creates; `false` means the session already existed. */
  is_new_session: z
    .boolean()
    .nullish()
    .transform((v) => v ?? undefined),
});
export type CreatedSession = z.output<typeof CreatedSessionSchema>;

export const DevinMessageSchema = z.object({
  type: z.string(),
  event_id: z.union([z.string(), z.number()]).transform(String),
  message: z.string(),
  timestamp: z.string(),
  username: z.string().nullish(),
  origin: z.string().nullish(),
});
export type DevinMessage = z.output<typeof DevinMessageSchema>;

const sessionFields = {
  session_id: z.string().min(1),
  status: z.string(),
  status_enum: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
  title: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
  created_at: z.string(),
  updated_at: z.string(),
  tags: z
    .array(z.string())
    .nullish()
    .transform((v) => v ?? []),
  pull_request: z
    .object({ url: z.string() })
    .nullish()
    .transform((v) => v ?? null),
  // Devin types it "unknown": anything but an object is not a result we can use.
  structured_output: z.unknown().transform((v) => (isRecord(v) ? v : null)),
  snapshot_id: z.string().nullish(),
  playbook_id: z.string().nullish(),
};

/** One entry of `GET /v1/sessions`: a session without its messages. */
export const DevinSessionSummarySchema = z.object(sessionFields);
export type DevinSessionSummary = z.output<typeof DevinSessionSummarySchema>;

/** `GET /v1/sessions/:id`. */
export const DevinSessionSchema = z.object({
  ...sessionFields,
  messages: z
    .array(DevinMessageSchema)
    .nullish()
    .transform((v) => v ?? []),
});
export type DevinSession = z.output<typeof DevinSessionSchema>;
/** What the sandbox sends; the client parses it back into `DevinSession`. */
export type DevinSessionWire = z.input<typeof DevinSessionSchema>;
export type DevinSessionSummaryWire = z.input<typeof DevinSessionSummarySchema>;

export const SessionListSchema = z.object({ sessions: z.array(DevinSessionSummarySchema) });

/** 200 with `null` (delivered) or `{detail}` (not delivered). */
export const MessageAnswerSchema = z.object({ detail: z.string().optional() }).nullable();

/** FastAPI's error bodies: `{detail: "…"}`, or a list of validation errors for a 422. */
export const FastApiValidationErrorSchema = z.object({
  loc: z.array(z.union([z.string(), z.number()])).default([]),
  msg: z.string(),
  type: z.string().optional(),
});
export type FastApiValidationError = z.input<typeof FastApiValidationErrorSchema>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
