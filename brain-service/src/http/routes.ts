import { type Kysely } from 'kysely';
import { brainEndpoints } from '@meetmatt/contracts';
import {
  type DomainProblems,
  HttpError,
  type Position,
  type Principal,
  type Routes,
  problemForDomainError,
} from '@meetmatt/infra';
import { type Deployments } from '../application/deployments';
import { agentErrors } from '../domain/agent-decide';
import {
  type AgentRow,
  type Viewer,
  agentHistory,
  agentLogLines,
  findAgent,
  listAgents,
} from '../projections/agent-queries';
import { type BrainDb } from '../database';
import { decodeCursor, encodeCursor } from './cursor';
import {
  type BuildsIncluded,
  agentDetail,
  agentStatus,
  agentSummary,
  deployAnswer,
} from './presenters';

export interface AgentRoutesDeps {
  db: Kysely<BrainDb>;
  deployments: Deployments;
  buildsIncluded: BuildsIncluded;
  /** Read-your-writes: resolves once the read models have passed `position`. */
  waitForProjections(position: Position | undefined): Promise<unknown>;
}

const viewerOf = ({ userId, role }: Principal): Viewer => ({ userId, admin: role === 'admin' });

const agentNotFound = () => HttpError.notFound('No such agent');

/** The answers to the agent decider's refusals of a deploy (only blocked builds come back). */
const deployProblems: DomainProblems = {
  [agentErrors.buildsBlocked]: { status: 402, detail: (m) => `Nothing is deployed: ${m}` },
};

/** The answers to its refusals of a rebuild; any other refusal reads as no such agent. */
const rebuildProblems: DomainProblems = {
  [agentErrors.buildInProgress]: {
    status: 409,
    detail: (m) => `The agent is being built (${m}); rebuild it once it is deployed or failed`,
  },
  [agentErrors.buildsBlocked]: { status: 402, detail: (m) => `No rebuild: ${m}` },
  [agentErrors.buildQuotaExhausted]: { status: 402, detail: (m) => `No rebuild: ${m}` },
};
const noSuchAgent = { status: 404, code: 'not-found', detail: () => 'No such agent' };

/** The agents API: thin handlers over the deployments and the read models. */
export function agentRoutes(deps: AgentRoutesDeps): (routes: Routes) => void {
  const { db, deployments, buildsIncluded } = deps;
  const summary = (row: AgentRow) => agentSummary(row, buildsIncluded);
  return (routes) => {
    routes.add(brainEndpoints.deployAgent, async ({ body, principal }) => {
      const { paymentId, ...overrides } = body;
      const outcome = await deployments.deploy(principal.userId, paymentId, overrides);
      switch (outcome.kind) {
        case 'not-found':
          throw HttpError.notFound('No payment of yours with this id');
        case 'unpaid':
          throw new HttpError(
            402,
            'payment-not-confirmed',
            `The payment is ${outcome.status.replace('_', ' ')}, not confirmed: nothing to deploy`,
          );
        case 'refused':
          throw problemForDomainError(outcome.error, deployProblems);
        case 'existing':
          return { status: 200, body: deployAnswer(outcome.agent) };
        case 'created':
          await deps.waitForProjections(outcome.position);
          return {
            status: 202,
            body: deployAnswer(outcome.agent),
            headers: { Location: `/agents/${outcome.agent.agentId}` },
          };
      }
    });

    routes.add(brainEndpoints.listAgents, async ({ query, principal }) => {
      const page = await listAgents(db, viewerOf(principal), {
        limit: query.limit,
        after: decodeCursor(query.cursor),
      });
      return {
        status: 200,
        body: {
          items: page.rows.map(summary),
          nextCursor: page.next ? encodeCursor(page.next) : null,
        },
      };
    });

    routes.add(brainEndpoints.getAgentStatus, async ({ params, principal }) => {
      const row = await findAgent(db, params.id, viewerOf(principal));
      if (!row) throw agentNotFound();
      return { status: 200, body: agentStatus(row) };
    });

    routes.add(brainEndpoints.getAgentLogs, async ({ params, query, principal }) => {
      const row = await findAgent(db, params.id, viewerOf(principal));
      if (!row) throw agentNotFound();
      const after = query.after ?? 0;
      const lines = await agentLogLines(db, row.id, { after, limit: query.limit });
      const last = lines[lines.length - 1];
      return {
        status: 200,
        body: {
          lines: lines.map((l) => ({
            seq: l.seq,
            at: l.at.toISOString(),
            kind: l.kind,
            text: l.text,
          })),
          nextAfter: last ? last.seq : (query.after ?? null),
        },
      };
    });

    routes.add(brainEndpoints.rebuildAgent, async ({ params, body, principal }) => {
      const outcome = await deployments.rebuild(params.id, viewerOf(principal), body.instructions);
      switch (outcome.kind) {
        case 'not-found':
          throw agentNotFound();
        case 'refused':
          throw problemForDomainError(outcome.error, rebuildProblems, noSuchAgent);
        case 'requested': {
          await deps.waitForProjections(outcome.position);
          const row = await findAgent(db, params.id, viewerOf(principal));
          if (!row) throw agentNotFound();
          return { status: 202, body: summary(row) };
        }
      }
    });

    routes.add(brainEndpoints.getAgent, async ({ params, principal }) => {
      const row = await findAgent(db, params.id, viewerOf(principal));
      if (!row) throw agentNotFound();
      const history = await agentHistory(db, row.id);
      return { status: 200, body: agentDetail(row, history, buildsIncluded) };
    });
  };
}
