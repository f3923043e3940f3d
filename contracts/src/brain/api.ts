import { z } from 'zod';
import { IdParamsSchema, IdSchema, PageQuerySchema, TimestampSchema, pageOf } from '../common';
import { type EndpointDef, defineEndpoint, problems } from '../http';
import { buildOpenApiDocument } from '../openapi';
import { AgentStatusSchema, BuildLogLineSchema } from './events';
import { NoRepositorySchema } from './repository';

/** PostgreSQL stores no NUL character: a string carrying one is the client's mistake (400). */
const withoutNul = (schema: z.ZodString) =>
  schema.refine((text) => !text.includes('\u0000'), 'must not contain NUL (\\u0000) characters');

/** The largest build log sequence number the read model can hold (a PostgreSQL integer). */
const MAX_LOG_SEQ = 2_147_483_647;

export const DeployAgentRequestSchema = z
  .object({
    paymentId: IdSchema.describe('A confirmed payment of yours'),
    name: withoutNul(z.string().trim().min(1).max(80))
      .optional()
      .describe('Overrides the name given at checkout'),
    instructions: withoutNul(z.string().trim().min(1).max(20_000))
      .optional()
      .describe('Overrides the instructions given at checkout'),
    repository: NoRepositorySchema,
  })
  .meta({ id: 'DeployAgentRequest' });

export const AgentSummarySchema = z
  .object({
    id: IdSchema,
    userId: IdSchema,
    paymentId: IdSchema,
    name: z.string(),
    status: AgentStatusSchema,
    repository: z.string(),
    pullRequestUrl: z.string().nullable(),
    sessionUrl: z.string().nullable().describe('The current or last Devin session'),
    build: z.number().int().describe('Build number: 1, then +1 per rebuild'),
    buildsIncluded: z
      .number()
      .int()
      .describe(
        'Builds the plan includes, the first deploy among them: a rebuild past this number is 402',
      ),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .meta({ id: 'AgentSummary' });

export const DeployAgentResponseSchema = AgentSummarySchema.pick({
  id: true,
  status: true,
  paymentId: true,
  name: true,
  repository: true,
  createdAt: true,
}).meta({ id: 'DeployAgentResponse' });

export const AgentDetailSchema = AgentSummarySchema.extend({
  instructions: z.string(),
  structuredOutput: z.record(z.string(), z.unknown()).nullable(),
  failureReason: z.string().nullable(),
  history: z
    .array(z.object({ type: z.string(), at: TimestampSchema, detail: z.string().nullable() }))
    .describe('What happened to the agent, oldest first'),
}).meta({ id: 'AgentDetail' });

export const AgentStatusResponseSchema = z
  .object({
    id: IdSchema,
    status: AgentStatusSchema,
    sessionStatus: z.string().nullable().describe('The Devin session status, while building'),
    pullRequestUrl: z.string().nullable(),
    updatedAt: TimestampSchema,
  })
  .meta({ id: 'AgentStatusResponse' });

export const AgentLogsQuerySchema = z.object({
  after: z.coerce
    .number({ message: 'expected a number' })
    .int()
    .min(0)
    .max(MAX_LOG_SEQ)
    .optional()
    .describe('Return lines after this sequence number'),
  limit: z.coerce
    .number({ message: 'expected a number' })
    .int()
    .min(1)
    .max(500)
    .default(100)
    .describe('At most this many lines'),
});
export const AgentLogsSchema = z
  .object({
    lines: z.array(
      BuildLogLineSchema.extend({ seq: z.number().int().describe('Pass as `after` to page') }),
    ),
    nextAfter: z
      .number()
      .int()
      .nullable()
      .describe('The `after` for the next page; null when there is none yet'),
  })
  .meta({ id: 'AgentLogs' });

export const RebuildRequestSchema = z
  .object({
    instructions: withoutNul(z.string().trim().min(1).max(20_000))
      .optional()
      .describe('New instructions; the last ones when absent'),
  })
  .meta({ id: 'RebuildRequest' });

const tags = ['agents'];

export const brainEndpoints = {
  deployAgent: defineEndpoint({
    operationId: 'deployAgent',
    method: 'post',
    path: '/agents/deploy',
    summary: 'Deploy the agent bought by one of your confirmed payments',
    description:
      '202 with a new deployment; 200 with the existing agent when that payment was already deployed ' +
      '(automatically on confirmation, or by an earlier call). The brain learns of payments from the ' +
      'payment service’s events: a payment of yours it knows that is not confirmed (still waiting, ' +
      'failed, expired, partially paid, refunded) is 402; one it has not heard of, or another ' +
      'user’s, is 404. Right after paying, a 402 or 404 may turn into a 202 within seconds. A payment ' +
      'whose refund was asked for is 402. The repository is always one Meet Matt creates under its own ' +
      'organisation, named from the agent: a request naming one is 400.',
    tags,
    auth: 'user',
    body: DeployAgentRequestSchema,
    responses: {
      202: {
        description: 'Deployment started; Location names the agent',
        schema: DeployAgentResponseSchema,
        headers: { Location: 'The agent: /agents/{id}' },
      },
      200: { description: 'Already deployed for this payment', schema: DeployAgentResponseSchema },
      400: problems[400],
      401: problems[401],
      402: problems[402],
      404: problems[404],
    },
  }),
  listAgents: defineEndpoint({
    operationId: 'listAgents',
    method: 'get',
    path: '/agents',
    summary: 'Your agents, newest first (operators see everyone’s)',
    tags,
    auth: 'user',
    query: PageQuerySchema,
    responses: {
      200: { description: 'A page of agents', schema: pageOf(AgentSummarySchema, 'AgentPage') },
      400: problems[400],
      401: problems[401],
    },
  }),
  getAgentStatus: defineEndpoint({
    operationId: 'getAgentStatus',
    method: 'get',
    path: '/agents/:id/status',
    summary: 'Where the build is',
    tags,
    auth: 'user',
    params: IdParamsSchema,
    responses: {
      200: { description: 'Status', schema: AgentStatusResponseSchema },
      401: problems[401],
      404: problems[404],
    },
  }),
  getAgentLogs: defineEndpoint({
    operationId: 'getAgentLogs',
    method: 'get',
    path: '/agents/:id/logs',
    summary: 'Build log lines, paged with `after`',
    tags,
    auth: 'user',
    params: IdParamsSchema,
    query: AgentLogsQuerySchema,
    responses: {
      200: { description: 'Log lines', schema: AgentLogsSchema },
      400: problems[400],
      401: problems[401],
      404: problems[404],
    },
  }),
  rebuildAgent: defineEndpoint({
    operationId: 'rebuildAgent',
    method: 'post',
    path: '/agents/:id/rebuild',
    summary: 'Build a deployed or failed agent again, in a new Devin session',
    description:
      'Each plan includes a number of builds, the first deploy counting as one (starter 3, pro 10, ' +
      'enterprise 25 by default). Beyond them, or once a refund of the payment was asked for or ' +
      'made, the answer is 402 and no build starts; 409 while a build is under way.',
    tags,
    auth: 'user',
    params: IdParamsSchema,
    body: RebuildRequestSchema,
    responses: {
      202: { description: 'Rebuild started', schema: AgentSummarySchema },
      400: problems[400],
      401: problems[401],
      402: problems[402],
      404: problems[404],
      409: problems[409],
    },
  }),
  getAgent: defineEndpoint({
    operationId: 'getAgent',
    method: 'get',
    path: '/agents/:id',
    summary: 'One of your agents: repository, pull request, Devin session, history',
    tags,
    auth: 'user',
    params: IdParamsSchema,
    responses: {
      200: { description: 'Agent', schema: AgentDetailSchema },
      401: problems[401],
      404: problems[404],
    },
  }),
} satisfies Record<string, EndpointDef>;

export function brainOpenApi(serverUrl?: string): Record<string, unknown> {
  return buildOpenApiDocument(
    { title: 'Meet Matt brain service', version: '0.1.0', ...(serverUrl ? { serverUrl } : {}) },
    Object.values<EndpointDef>(brainEndpoints),
  );
}
