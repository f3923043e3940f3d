import { z } from 'zod';
import { AgentSpecSchema } from '../payment/events';

/**
 * Devin works only in repositories we create under our own organisation and name from the agent
 * (issue 14): a customer never chooses where. The field stays in the requests so that naming one
 * is refused with a 400 naming it, rather than dropped in silence.
 */
export const NoRepositorySchema = z
  .never({
    error:
      'repositories are created under Meet Matt’s own organisation and named from the agent: leave repository out',
  })
  .optional()
  .describe(
    'Not accepted: every agent is built in a repository Meet Matt creates under its own organisation, named from the agent',
  );

/** The agent a customer orders at checkout: a name and instructions, never a repository. */
export const AgentOrderSchema = AgentSpecSchema.extend({ repository: NoRepositorySchema }).meta({
  id: 'AgentOrder',
});
