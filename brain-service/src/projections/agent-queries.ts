import { type Kysely, type Selectable } from 'kysely';
import {
  type AgentHistoryTable,
  type AgentLogLinesTable,
  type AgentsTable,
  type BrainDb,
} from '../database';

export type AgentRow = Selectable<AgentsTable>;
export type HistoryRow = Selectable<AgentHistoryTable>;
export type LogLineRow = Selectable<AgentLogLinesTable>;

/** Who reads: users see their own agents, operators everyone's. */
export interface Viewer {
  userId: string;
  admin: boolean;
}

/** The agent, if the viewer may see it; another user's agent is as good as absent. */
export async function findAgent(
  db: Kysely<BrainDb>,
  agentId: string,
  viewer: Viewer,
): Promise<AgentRow | undefined> {
  let query = db.selectFrom('agents').selectAll().where('id', '=', agentId);
  if (!viewer.admin) query = query.where('user_id', '=', viewer.userId);
  return query.executeTakeFirst();
}

export interface AgentPage {
  rows: AgentRow[];
  next: PageCursor | null;
}

export interface PageCursor {
  createdAt: Date;
  id: string;
}

/** Newest first, keyset-paged on (created_at, id). */
export async function listAgents(
  db: Kysely<BrainDb>,
  viewer: Viewer,
  page: { limit: number; after: PageCursor | undefined },
): Promise<AgentPage> {
  let query = db
    .selectFrom('agents')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (!viewer.admin) query = query.where('user_id', '=', viewer.userId);
  const after = page.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '<', after.createdAt),
        eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)]),
      ]),
    );
  }
  const rows = await query.execute();
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return {
    rows: items,
    next: rows.length > page.limit && last ? { createdAt: last.created_at, id: last.id } : null,
  };
}

export function agentHistory(db: Kysely<BrainDb>, agentId: string): Promise<HistoryRow[]> {
  return db
    .selectFrom('agent_history')
    .selectAll()
    .where('agent_id', '=', agentId)
    .orderBy('revision')
    .execute();
}

export function agentLogLines(
  db: Kysely<BrainDb>,
  agentId: string,
  page: { after: number; limit: number },
): Promise<LogLineRow[]> {
  return db
    .selectFrom('agent_log_lines')
    .selectAll()
    .where('agent_id', '=', agentId)
    .where('seq', '>', page.after)
    .orderBy('seq')
    .limit(page.limit)
    .execute();
}
