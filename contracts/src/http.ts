import { z } from 'zod';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call an endpoint: anyone, any signed-in user, an operator (`admin`),
 * or a caller proving itself another way (a provider's signature).
 */
export type EndpointAuth = 'none' | 'user' | 'admin' | 'signature';

export interface ResponseDef {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json. */
  contentType?: string;
  /** Other media types the same answer comes in, chosen by Accept (type → what it is). */
  alternatives?: Record<string, string>;
  headers?: Record<string, string>;
}

/**
 * One HTTP endpoint, described once: the service validates requests with these schemas and the
 * OpenAPI document is generated from them, so the two cannot drift apart.
 */
export interface EndpointDef<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  operationId: string;
  method: HttpMethod;
  /** Express-style path, e.g. `/payments/:id`. */
  path: string;
  summary: string;
  description?: string;
  tags: readonly string[];
  auth: EndpointAuth;
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers the endpoint reads, documented in OpenAPI (name → description). */
  headers?: Record<string, string>;
  /** Those of `headers` a request must send (e.g. If-Match, whose absence is 428). */
  requiredHeaders?: readonly string[];
  /**
   * `false`: an API key is refused (403), only a signed-in session will do, so the gateway's
   * document offers no apiKey scheme for it. Default: the gateway takes API keys.
   */
  apiKeys?: false;
  /** Overrides the service's JSON body limit, e.g. '64kb' for a webhook. */
  bodyLimit?: string;
  responses: Record<number, ResponseDef>;
}

/**
 * Keeps the literal type of the definition, so the http kit knows that a `user` endpoint always
 * has a principal and that an endpoint with a body schema always has a parsed body.
 */
export function defineEndpoint<const D extends EndpointDef>(def: D): D {
  return def;
}

/**
 * RFC 9457 problem details, the body of every error answer. Loose: RFC 9457 lets a problem type
 * carry extension members, and a client must ignore the ones it does not know.
 */
export const ProblemSchema = z
  .looseObject({
    type: z.string().describe('A URI reference naming the kind of problem'),
    title: z.string().describe('Short, human-readable summary of the kind of problem'),
    status: z.number().int().describe('The HTTP status code'),
    detail: z.string().optional().describe('What went wrong with this request'),
    instance: z.string().optional().describe('The request path'),
    requestId: z.string().optional().describe('The X-Request-Id of the request, for support'),
    errors: z
      .array(
        z.object({
          field: z.string().describe('Dotted path of the offending field'),
          in: z.enum(['body', 'query', 'params', 'header']).describe('Where the field was'),
          message: z.string().describe('What is wrong with it'),
        }),
      )
      .optional()
      .describe('One entry per invalid field (validation errors only)'),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof ProblemSchema>;

export const HealthSchema = z
  .object({ status: z.literal('ok').describe('The process is alive') })
  .meta({ id: 'Health' });

export const ReadinessSchema = z
  .object({
    status: z.enum(['ready', 'unavailable']).describe('Whether the service can serve traffic'),
    reason: z.string().optional().describe('The first failing check, when unavailable'),
    checks: z
      .record(
        z.string(),
        z.object({
          ok: z.boolean().describe('Whether this dependency answered'),
          error: z.string().optional().describe('Why not'),
          details: z.record(z.string(), z.unknown()).optional().describe('Extra figures, e.g. lag'),
        }),
      )
      .describe('One entry per dependency: database, broker, event store, projections'),
  })
  .meta({ id: 'Readiness' });

const problem = (description: string): ResponseDef => ({
  description,
  schema: ProblemSchema,
  contentType: 'application/problem+json',
});

/** The standard error answers, to spread into an endpoint's responses. */
export const problems = {
  400: problem('The request is malformed; `errors` names each invalid field'),
  401: problem('Missing or invalid credentials'),
  402: problem('The payment this needs is not confirmed'),
  403: problem('Authenticated but not allowed'),
  404: problem('No such resource, or not yours'),
  409: problem('Conflicts with the current state'),
  412: problem('The If-Match revision is stale'),
  413: problem('The body is too large'),
  415: problem('The body is not sent as application/json (or in an encoding not understood)'),
  428: problem('A required precondition header (If-Match) is missing'),
  429: problem('Too many requests; see Retry-After'),
  502: problem('An upstream provider failed'),
  503: {
    ...problem(
      'Not served for the moment (a dependency unavailable, or the request ran past its time budget); retry after Retry-After',
    ),
    headers: { 'Retry-After': 'Seconds to wait before trying again' },
  },
} as const;

/** The endpoints every service serves. */
export const systemEndpoints = {
  healthz: defineEndpoint({
    operationId: 'healthz',
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process is up',
    tags: ['system'],
    auth: 'none',
    responses: {
      200: { description: 'Alive', schema: HealthSchema },
      503: {
        description: 'Stuck: the process is up but its work stopped (restart it)',
        schema: z
          .object({
            status: z.literal('stuck'),
            reason: z.string().optional().describe('What stopped'),
          })
          .meta({ id: 'Stuck' }),
      },
    },
  }),
  readyz: defineEndpoint({
    operationId: 'readyz',
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: database, broker and event store reachable, projections not lagging',
    tags: ['system'],
    auth: 'none',
    responses: {
      200: { description: 'Ready', schema: ReadinessSchema },
      503: {
        description: 'Not ready; `reason` names the failing dependency',
        schema: ReadinessSchema,
      },
    },
  }),
  metrics: defineEndpoint({
    operationId: 'metrics',
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tags: ['system'],
    auth: 'none',
    responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } },
  }),
};
