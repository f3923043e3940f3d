import { type AgentSpec } from '@meetmatt/contracts';
import { type AgentCommand } from '../domain/agent-decide';
import { agentIdFor, defaultRepository, slugFor } from '../domain/agent-identity';

export interface PaidOrder {
  paymentId: string;
  userId: string;
  plan: string;
  agent: AgentSpec;
  /** The build budget the payment service's catalogue gave the plan, when the payment says. */
  maxAcuLimit?: number | undefined;
}

export interface DeployOverrides {
  name?: string | undefined;
  instructions?: string | undefined;
  repository?: string | undefined;
}

/**
 * The deploy command for a paid order: what the buyer gave at checkout, overridden by what
 * they give when deploying by hand; a repository named from the slug when none was given.
 */
export function deployCommandFor(
  order: PaidOrder,
  trigger: 'payment' | 'user',
  repositoryOwner: string,
  now: Date,
  overrides: DeployOverrides = {},
): Extract<AgentCommand, { type: 'RequestDeploy' }> {
  const agentId = agentIdFor(order.paymentId);
  const name = overrides.name ?? order.agent.name;
  const slug = slugFor(name);
  return {
    type: 'RequestDeploy',
    data: {
      agentId,
      userId: order.userId,
      paymentId: order.paymentId,
      plan: order.plan,
      name,
      slug,
      instructions: overrides.instructions ?? order.agent.instructions,
      repository:
        overrides.repository ??
        order.agent.repository ??
        defaultRepository(repositoryOwner, slug, agentId),
      ...(order.maxAcuLimit === undefined ? {} : { maxAcuLimit: order.maxAcuLimit }),
      trigger,
      now,
    },
  };
}
