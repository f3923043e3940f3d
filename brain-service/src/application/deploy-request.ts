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
}

/** What the brain's configuration says of every build: where, and how many a plan includes. */
export interface BuildPolicy {
  /** The organisation that owns every agent repository (AGENT_REPOSITORY_OWNER). */
  repositoryOwner: string;
  buildsIncluded(plan: string): number;
}

/**
 * The deploy command for a paid order: what the buyer gave at checkout, overridden by what
 * they give when deploying by hand. The repository is ours and named from the slug, whatever
 * an older order may carry in `agent.repository`.
 */
export function deployCommandFor(
  order: PaidOrder,
  trigger: 'payment' | 'user',
  policy: BuildPolicy,
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
      repository: defaultRepository(policy.repositoryOwner, slug, agentId),
      ...(order.maxAcuLimit === undefined ? {} : { maxAcuLimit: order.maxAcuLimit }),
      buildsIncluded: policy.buildsIncluded(order.plan),
      trigger,
      repositoryOwner: policy.repositoryOwner,
      now,
    },
  };
}
