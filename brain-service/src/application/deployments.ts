import { type Kysely } from 'kysely';
import { type Position } from '@meetmatt/infra';
import { type Agent } from '../domain/agent';
import { type DomainError } from '@meetmatt/infra/domain';
import { agentErrors } from '../domain/agent-decide';
import { agentIdFor } from '../domain/agent-identity';
import { type BrainDb } from '../database';
import { type AgentRepository } from './agent-repository';
import { type BuildPolicy, type DeployOverrides, deployCommandFor } from './deploy-request';
import { type KnownPaymentStatus } from '../domain/payment-status';
import { findPayment } from '../projections/payment-queries';

export interface DeploymentsDeps {
  db: Kysely<BrainDb>;
  agents: AgentRepository;
  policy: BuildPolicy;
  now: () => Date;
}

export type DeployOutcome =
  | { kind: 'created'; agent: Agent; position: Position | undefined }
  | { kind: 'existing'; agent: Agent }
  | { kind: 'unpaid'; status: KnownPaymentStatus }
  /** Builds are blocked (a refund): the decider's error, answered by the HTTP layer. */
  | { kind: 'refused'; error: DomainError }
  | { kind: 'not-found' };

export type RebuildOutcome =
  | { kind: 'requested'; agent: Agent; position: Position | undefined }
  | { kind: 'not-found' }
  /** The decider refused: a build in progress, builds blocked, the plan's builds used. */
  | { kind: 'refused'; error: DomainError };

/** What a user asks of agents: deploy a paid order, rebuild an agent. */
export class Deployments {
  constructor(private readonly deps: DeploymentsDeps) {}

  /**
   * The agent of the caller's payment. The brain knows a payment from the bus: confirmed ones
   * deploy, the others (still waiting, failed, expired, partially paid, refunded) are unpaid;
   * one it never heard of, or another user's, is not found. An agent that exists is answered
   * whatever became of its payment since.
   */
  async deploy(
    userId: string,
    paymentId: string,
    overrides: DeployOverrides,
  ): Promise<DeployOutcome> {
    const payment = await findPayment(this.deps.db, paymentId);
    if (!payment || payment.userId !== userId) return { kind: 'not-found' };
    const agentId = agentIdFor(paymentId);
    const existing = await this.deps.agents.load(agentId);
    if (existing.state.exists) return { kind: 'existing', agent: existing.state };
    if (payment.status !== 'confirmed' || !payment.plan || !payment.agent)
      return { kind: 'unpaid', status: payment.status };
    const command = deployCommandFor(
      {
        paymentId,
        userId,
        plan: payment.plan,
        agent: payment.agent,
        maxAcuLimit: payment.maxAcuLimit ?? undefined,
      },
      'user',
      this.deps.policy,
      this.deps.now(),
      overrides,
    );
    const result = await this.deps.agents.execute(agentId, command, { userId });
    if (!result.ok) {
      // A refund recorded in the agent's stream before the payments read model heard of it.
      if (result.error.code === agentErrors.buildsBlocked)
        return { kind: 'refused', error: result.error };
      throw new Error(`deploy refused: ${result.error.message}`);
    }
    if (!result.state.exists) throw new Error('deploy recorded nothing');
    return result.events.length > 0
      ? { kind: 'created', agent: result.state, position: result.position }
      : { kind: 'existing', agent: result.state };
  }

  async rebuild(
    agentId: string,
    viewer: { userId: string; admin: boolean },
    instructions: string | undefined,
  ): Promise<RebuildOutcome> {
    // The plan's builds, for agents whose stream predates recording them.
    const loaded = await this.deps.agents.load(agentId);
    if (!loaded.state.exists) return { kind: 'not-found' };
    const buildsIncluded = this.deps.policy.buildsIncluded(loaded.state.plan);
    const result = await this.deps.agents.execute(
      agentId,
      {
        type: 'RequestRebuild',
        data: {
          userId: viewer.userId,
          admin: viewer.admin,
          instructions,
          buildsIncluded,
          now: this.deps.now(),
        },
      },
      { userId: viewer.userId },
    );
    if (!result.ok) return { kind: 'refused', error: result.error };
    if (!result.state.exists) return { kind: 'not-found' };
    return { kind: 'requested', agent: result.state, position: result.position };
  }
}
