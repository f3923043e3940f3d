import { type Insertable, type Kysely, type Transaction, type Updateable, sql } from 'kysely';
import { agentEvents } from '@meetmatt/contracts';
import { type ProjectedEvent, type Projection, defineProjection } from '@meetmatt/infra';
import { type AgentEvent } from '../domain/agent';
import { blockReasonText } from '../domain/agent-decide';
import { type AgentsTable, type BrainDb } from '../database';

/**
 * The agents read model: one row per agent (what GET /agents/:id and the tracker's scan read),
 * its history (one row per event that changed something a user cares about) and its build log
 * lines, numbered per agent. Everything is derived from the agent's events only, so a rebuild
 * from position 0 gives the same rows.
 */
export const agentsProjection: Projection = defineProjection<BrainDb, AgentEvent>({
  name: 'agents',
  version: 2,
  eventTypes: Object.values(agentEvents).map((e) => e.type),
  tables: ['agents', 'agent_history', 'agent_log_lines'],
  createTables,
  async apply(trx, events) {
    // The rows first, event by event (a handler may read what the one before wrote); the
    // history lines of the whole batch then go in one statement: one round trip, not one per event.
    const lines: HistoryLine[] = [];
    for (const event of events) {
      const handle = handlers[event.type] as Handler<Event['type']>;
      const detail = await handle(trx, event);
      if (detail !== undefined) lines.push(historyLine(event, detail));
    }
    if (lines.length > 0) await trx.insertInto('agent_history').values(lines).execute();
  },
});

async function createTables(db: Kysely<BrainDb>, schema: string): Promise<void> {
  await db.schema
    .withSchema(schema)
    .createTable('agents')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('payment_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('instructions', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('build', 'integer', (c) => c.notNull())
    .addColumn('builds_included', 'integer')
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('session_id', 'text')
    .addColumn('session_url', 'text')
    .addColumn('session_status', 'text')
    .addColumn('follow_ups_sent', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pull_request_url', 'text')
    .addColumn('structured_output', 'jsonb')
    .addColumn('failure_reason', 'text')
    .addColumn('log_lines', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`CREATE INDEX agents_user_newest ON agents (user_id, created_at DESC, id DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX agents_newest ON agents (created_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX agents_active ON agents (status) WHERE status IN ('requested', 'building')`.execute(
    db,
  );
  await db.schema
    .withSchema(schema)
    .createTable('agent_history')
    .addColumn('agent_id', 'uuid', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('detail', 'text')
    .addPrimaryKeyConstraint('agent_history_pk', ['agent_id', 'revision'])
    .execute();
  await db.schema
    .withSchema(schema)
    .createTable('agent_log_lines')
    .addColumn('agent_id', 'uuid', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('agent_log_lines_pk', ['agent_id', 'seq'])
    .execute();
}

type Event = ProjectedEvent<AgentEvent>;
type EventOf<T extends Event['type']> = Extract<Event, { type: T }>;

/**
 * One handler per event: it writes the agent's row and says what the history shows of it
 * (undefined: no history line). `apply` writes the batch's history lines, keyed by their events.
 */
type Handler<T extends Event['type']> = (
  trx: Transaction<BrainDb>,
  event: EventOf<T>,
) => Promise<string | undefined>;

const handlers: { [T in Event['type']]: Handler<T> } = {
  'agent.deploy-requested': async (trx, { data: d }) => {
    await trx
      .insertInto('agents')
      .values({
        id: d.agentId,
        user_id: d.userId,
        payment_id: d.paymentId,
        plan: d.plan,
        name: d.name,
        slug: d.slug,
        instructions: d.instructions,
        repository: d.repository,
        status: 'requested',
        build: 1,
        builds_included: d.buildsIncluded ?? null,
        attempt: 1,
        created_at: d.requestedAt,
        updated_at: d.requestedAt,
      })
      .execute();
    const by = d.trigger === 'payment' ? 'on payment' : 'by the user';
    return `Deploy requested (${by}); repository ${d.repository}`;
  },

  'agent.session-started': async (trx, { data: d }) => {
    await updateAgent(trx, d.agentId, {
      status: 'building',
      build: d.build,
      attempt: d.attempt,
      session_id: d.sessionId,
      session_url: d.sessionUrl,
      session_status: null,
      follow_ups_sent: 0,
      failure_reason: null,
      updated_at: d.startedAt,
    });
    return `Devin session ${d.sessionId} started (build ${d.build}, attempt ${d.attempt}): ${d.sessionUrl}`;
  },

  'agent.build-progressed': async (trx, { data: d }) => {
    // One statement, the most frequent event's (one per poll that saw news, while Devin works):
    // the row as it was (for the history line), its update and the numbered log lines.
    const numbered = d.lines.map((line, i) => ({ n: i + 1, ...line }));
    const { rows } = await sql<{
      session_status: string | null;
      follow_ups_sent: number;
      log_lines: number;
    }>`
      WITH old AS MATERIALIZED (
        SELECT session_status, follow_ups_sent, log_lines FROM agents
        WHERE id = ${d.agentId} FOR UPDATE
      ), moved AS (
        UPDATE agents SET session_status = ${d.status}, follow_ups_sent = ${d.followUpsSent},
          log_lines = agents.log_lines + ${d.lines.length}::int, updated_at = ${d.at}
        WHERE id = ${d.agentId}
      ), logged AS (
        INSERT INTO agent_log_lines (agent_id, seq, session_id, at, kind, text)
        SELECT ${d.agentId}, old.log_lines + l.n, ${d.sessionId}, l.at, l.kind, l.text
        FROM old, jsonb_to_recordset(${JSON.stringify(numbered)}::jsonb)
          AS l(n int, at timestamptz, kind text, text text)
      )
      SELECT session_status, follow_ups_sent, log_lines FROM old`.execute(trx);
    const row = rows[0];
    if (!row) throw new Error(`agent ${d.agentId} is not in the read model`);
    const notes = [
      ...(d.followUpsSent > row.follow_ups_sent
        ? [`Answered the blocked session (follow-up ${d.followUpsSent})`]
        : []),
      ...(d.status !== row.session_status ? [`Devin session ${d.status}`] : []),
    ];
    return notes.length > 0 ? notes.join('; ') : undefined;
  },

  'agent.deployed': async (trx, { data: d }) => {
    await updateAgent(trx, d.agentId, {
      status: 'deployed',
      repository: d.repository,
      pull_request_url: d.pullRequestUrl,
      structured_output: d.structuredOutput ? JSON.stringify(d.structuredOutput) : null,
      failure_reason: null,
      updated_at: d.deployedAt,
    });
    return `Deployed (build ${d.build})${d.pullRequestUrl ? `: ${d.pullRequestUrl}` : ''}`;
  },

  'agent.deploy-failed': async (trx, { data: d }) => {
    await updateAgent(trx, d.agentId, {
      status: d.final ? 'failed' : 'building',
      attempt: d.final ? d.attempt : d.attempt + 1,
      failure_reason: d.reason,
      updated_at: d.failedAt,
    });
    const next = d.final ? '' : ', retrying with a new session';
    return `Build ${d.build} attempt ${d.attempt} failed${next}: ${d.reason}`;
  },

  'agent.builds-blocked': async (trx, { data: d }) => {
    // A refund may come before any deploy: then there is no agent to show it on.
    const updated = await updateAgent(trx, d.agentId, { updated_at: d.at });
    return updated ? `No more builds: ${blockReasonText(d.reason)}` : undefined;
  },

  'agent.build-stopped': async (trx, { data: d }) => {
    await updateAgent(trx, d.agentId, {
      status: 'failed',
      attempt: d.attempt,
      failure_reason: d.reason,
      updated_at: d.stoppedAt,
    });
    return `Build ${d.build} attempt ${d.attempt} ${d.reason}`;
  },

  'agent.rebuild-requested': async (trx, { data: d }) => {
    await updateAgent(trx, d.agentId, {
      status: 'building',
      build: d.build,
      attempt: 1,
      instructions: d.instructions,
      session_status: null,
      failure_reason: null,
      updated_at: d.requestedAt,
    });
    return `Rebuild requested (build ${d.build})`;
  },
};

/** Whether there was an agent row to update. */
async function updateAgent(
  trx: Transaction<BrainDb>,
  agentId: string,
  set: Updateable<AgentsTable>,
): Promise<boolean> {
  const updated = await trx
    .updateTable('agents')
    .set(set)
    .where('id', '=', agentId)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}

type HistoryLine = Insertable<BrainDb['agent_history']>;

function historyLine(event: Event, detail: string): HistoryLine {
  return {
    agent_id: event.data.agentId,
    revision: event.revision,
    type: event.type,
    at: event.createdAt,
    detail,
  };
}
