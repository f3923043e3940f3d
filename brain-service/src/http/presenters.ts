import { type z } from 'zod';
import {
  type AgentDetailSchema,
  type AgentStatus,
  type AgentStatusResponseSchema,
  type AgentSummarySchema,
  type DeployAgentResponseSchema,
} from '@meetmatt/contracts';
import { type Agent } from '../domain/agent';
import { type AgentRow, type HistoryRow } from '../projections/agent-queries';

/** The builds a plan includes, for agents whose row predates recording them. */
export type BuildsIncluded = (plan: string) => number;

export function agentSummary(
  row: AgentRow,
  buildsIncluded: BuildsIncluded,
): z.infer<typeof AgentSummarySchema> {
  return {
    id: row.id,
    userId: row.user_id,
    paymentId: row.payment_id,
    name: row.name,
    status: row.status as AgentStatus,
    repository: row.repository,
    pullRequestUrl: row.pull_request_url,
    sessionUrl: row.session_url,
    build: row.build,
    buildsIncluded: row.builds_included ?? buildsIncluded(row.plan),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function agentDetail(
  row: AgentRow,
  history: HistoryRow[],
  buildsIncluded: BuildsIncluded,
): z.infer<typeof AgentDetailSchema> {
  return {
    ...agentSummary(row, buildsIncluded),
    instructions: row.instructions,
    structuredOutput: row.structured_output,
    failureReason: row.failure_reason,
    history: history.map((h) => ({ type: h.type, at: h.at.toISOString(), detail: h.detail })),
  };
}

export function agentStatus(row: AgentRow): z.infer<typeof AgentStatusResponseSchema> {
  return {
    id: row.id,
    status: row.status as AgentStatus,
    sessionStatus: row.status === 'building' ? row.session_status : null,
    pullRequestUrl: row.pull_request_url,
    updatedAt: row.updated_at.toISOString(),
  };
}

/** From the agent's own state: the answer does not wait for the read model. */
export function deployAnswer(agent: Agent): z.infer<typeof DeployAgentResponseSchema> {
  return {
    id: agent.agentId,
    status: agent.status,
    paymentId: agent.paymentId,
    name: agent.name,
    repository: agent.repository,
    createdAt: agent.requestedAt,
  };
}
