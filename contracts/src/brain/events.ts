import { z } from 'zod';
import { IdSchema, TimestampSchema } from '../common';
import { type EventUnion, defineEvent } from '../events';

export const AgentStatusSchema = z
  .enum(['requested', 'building', 'deployed', 'failed'])
  .describe('requested → building → deployed | failed; a rebuild goes back to building');
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

export const BuildLogLineSchema = z
  .object({
    at: TimestampSchema,
    kind: z.string().describe('Devin message type, or "status" for a status change'),
    text: z.string(),
  })
  .meta({ id: 'BuildLogLine' });

export const BuildBlockReasonSchema = z
  .enum(['refund-requested', 'refunded'])
  .describe('What the payment service said: a refund was asked for, or it was made');
export type BuildBlockReason = z.infer<typeof BuildBlockReasonSchema>;

const agentId = IdSchema.describe(
  'The agent (derived from the payment id: one payment, one agent)',
);
const userId = IdSchema.describe('The owner');

export const agentEvents = {
  deployRequested: defineEvent(
    'agent.deploy-requested',
    z.object({
      agentId,
      userId,
      paymentId: IdSchema,
      plan: z.string(),
      name: z.string(),
      slug: z.string().describe('URL-safe name, from which the repository is named'),
      instructions: z.string(),
      repository: z
        .string()
        .describe('owner/name the agent is built in: always under our own organisation'),
      maxAcuLimit: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'The Devin budget (ACUs) of each build, from the payment; absent: the brain’s configuration for the plan',
        ),
      buildsIncluded: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'Builds the plan pays for, this first one included; absent (older events): the brain’s configuration for the plan',
        ),
      trigger: z.enum(['payment', 'user']).describe('Automatic on payment, or POST /agents/deploy'),
      requestedAt: TimestampSchema,
    }),
    { description: 'An agent deployment was asked for (appended with no_stream: one per payment)' },
  ),
  sessionStarted: defineEvent(
    'agent.session-started',
    z.object({
      agentId,
      userId,
      sessionId: z.string().describe('Devin session id'),
      sessionUrl: z.string().describe('Devin session URL'),
      attempt: z
        .number()
        .int()
        .positive()
        .describe('1 for the first session of a build, 2 for the retry'),
      build: z.number().int().positive().describe('1 for the first deploy, +1 for each rebuild'),
      startedAt: TimestampSchema,
    }),
    { description: 'A Devin session is building the agent' },
  ),
  buildProgressed: defineEvent(
    'agent.build-progressed',
    z.object({
      agentId,
      sessionId: z.string(),
      status: z.string().describe('Devin status_enum (or status)'),
      lines: z.array(BuildLogLineSchema).describe('New build log lines since the last progress'),
      followUpsSent: z
        .number()
        .int()
        .nonnegative()
        .describe('Answers sent to a blocked session so far'),
      at: TimestampSchema,
    }),
    { description: 'The Devin session moved on: a new status and/or new messages' },
  ),
  deployed: defineEvent(
    'agent.deployed',
    z.object({
      agentId,
      userId,
      paymentId: IdSchema,
      sessionId: z.string(),
      repository: z.string(),
      pullRequestUrl: z.string().nullable(),
      structuredOutput: z.record(z.string(), z.unknown()).nullable(),
      build: z.number().int().positive(),
      deployedAt: TimestampSchema,
    }),
    { description: 'The build finished with a result: the agent is deployed' },
  ),
  deployFailed: defineEvent(
    'agent.deploy-failed',
    z.object({
      agentId,
      userId,
      paymentId: IdSchema,
      sessionId: z.string().nullable(),
      reason: z.string(),
      attempt: z.number().int().positive(),
      build: z.number().int().positive(),
      final: z
        .boolean()
        .describe('true: no retry follows (payment asks for a refund on the first build)'),
      failedAt: TimestampSchema,
    }),
    { description: 'A build attempt failed; `final` when it will not be retried' },
  ),
  rebuildRequested: defineEvent(
    'agent.rebuild-requested',
    z.object({
      agentId,
      userId,
      instructions: z.string().describe('The instructions for this build'),
      build: z.number().int().positive(),
      requestedAt: TimestampSchema,
    }),
    { description: 'The user asked for a new build of a deployed or failed agent' },
  ),
  buildsBlocked: defineEvent(
    'agent.builds-blocked',
    z.object({
      agentId,
      userId,
      paymentId: IdSchema,
      reason: BuildBlockReasonSchema,
      at: TimestampSchema,
    }),
    {
      description:
        'The payment is being refunded: no build starts from now on, and a build under way is stopped. May be the first event of the stream, when the refund comes before any deploy',
    },
  ),
  buildStopped: defineEvent(
    'agent.build-stopped',
    z.object({
      agentId,
      userId,
      paymentId: IdSchema,
      sessionId: z.string().nullable().describe('The Devin session stopped, when one ran'),
      reason: z.string(),
      attempt: z.number().int().positive(),
      build: z.number().int().positive(),
      stoppedAt: TimestampSchema,
    }),
    {
      description:
        'We stopped a build ourselves (builds blocked, or a repository not ours): final, with no retry and no refund asked for',
    },
  ),
};

export type AgentEvent = EventUnion<typeof agentEvents>;
