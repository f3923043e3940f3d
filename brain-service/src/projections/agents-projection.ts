import { type Kysely, type Transaction, sql } from 'kysely';
import { agentEvents } from '@meetmatt/contracts';
import { type ProjectedEvent, type Projection, defineProjection } from '@meetmatt/infra';
import { type AgentEvent } from '../domain/agent';
import { blockReasonText } from '../domain/agent-decide';
import { type BrainDb } from '../database';

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
    for (const event of events) await applyOne(trx, event);
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

async function applyOne(trx: Transaction<BrainDb>, event: Event): Promise<void> {
  switch (event.type) {
    case agentEvents.deployRequested.type: {
      const d = event.data;
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
      await history(
        trx,
        event,
        `Deploy requested (${d.trigger === 'payment' ? 'on payment' : 'by the user'}); repository ${d.repository}`,
      );
      return;
    }
    case agentEvents.sessionStarted.type: {
      const d = event.data;
      await trx
        .updateTable('agents')
        .set({
          status: 'building',
          build: d.build,
          attempt: d.attempt,
          session_id: d.sessionId,
          session_url: d.sessionUrl,
          session_status: null,
          follow_ups_sent: 0,
          failure_reason: null,
          updated_at: d.startedAt,
        })
        .where('id', '=', d.agentId)
        .execute();
      await history(
        trx,
        event,
        `Devin session ${d.sessionId} started (build ${d.build}, attempt ${d.attempt}): ${d.sessionUrl}`,
      );
      return;
    }
    case agentEvents.buildProgressed.type: {
      const d = event.data;
      const row = await trx
        .selectFrom('agents')
        .select(['session_status', 'follow_ups_sent', 'log_lines'])
        .where('id', '=', d.agentId)
        .executeTakeFirstOrThrow();
      if (d.lines.length > 0) {
        await trx
          .insertInto('agent_log_lines')
          .values(
            d.lines.map((line, i) => ({
              agent_id: d.agentId,
              seq: row.log_lines + i + 1,
              session_id: d.sessionId,
              at: line.at,
              kind: line.kind,
              text: line.text,
            })),
          )
          .execute();
      }
      await trx
        .updateTable('agents')
        .set({
          session_status: d.status,
          follow_ups_sent: d.followUpsSent,
          log_lines: row.log_lines + d.lines.length,
          updated_at: d.at,
        })
        .where('id', '=', d.agentId)
        .execute();
      const notes = [
        ...(d.followUpsSent > row.follow_ups_sent
          ? [`Answered the blocked session (follow-up ${d.followUpsSent})`]
          : []),
        ...(d.status !== row.session_status ? [`Devin session ${d.status}`] : []),
      ];
      if (notes.length > 0) await history(trx, event, notes.join('; '));
      return;
    }
    case agentEvents.deployed.type: {
      const d = event.data;
      await trx
        .updateTable('agents')
        .set({
          status: 'deployed',
          repository: d.repository,
          pull_request_url: d.pullRequestUrl,
          structured_output: d.structuredOutput ? JSON.stringify(d.structuredOutput) : null,
          failure_reason: null,
          updated_at: d.deployedAt,
        })
        .where('id', '=', d.agentId)
        .execute();
      await history(
        trx,
        event,
        `Deployed (build ${d.build})${d.pullRequestUrl ? `: ${d.pullRequestUrl}` : ''}`,
      );
      return;
    }
    case agentEvents.deployFailed.type: {
      const d = event.data;
      await trx
        .updateTable('agents')
        .set({
          status: d.final ? 'failed' : 'building',
          attempt: d.final ? d.attempt : d.attempt + 1,
          failure_reason: d.reason,
          updated_at: d.failedAt,
        })
        .where('id', '=', d.agentId)
        .execute();
      await history(
        trx,
        event,
        `Build ${d.build} attempt ${d.attempt} failed${d.final ? '' : ', retrying with a new session'}: ${d.reason}`,
      );
      return;
    }
    case agentEvents.buildsBlocked.type: {
      const d = event.data;
      // A refund may come before any deploy: then there is no agent to show it on.
      const updated = await trx
        .updateTable('agents')
        .set({ updated_at: d.at })
        .where('id', '=', d.agentId)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return;
      await history(trx, event, `No more builds: ${blockReasonText(d.reason)}`);
      return;
    }
    case agentEvents.buildStopped.type: {
      const d = event.data;
      await trx
        .updateTable('agents')
        .set({
          status: 'failed',
          attempt: d.attempt,
          failure_reason: d.reason,
          updated_at: d.stoppedAt,
        })
        .where('id', '=', d.agentId)
        .execute();
      await history(trx, event, `Build ${d.build} attempt ${d.attempt} ${d.reason}`);
      return;
    }
    case agentEvents.rebuildRequested.type: {
      const d = event.data;
      await trx
        .updateTable('agents')
        .set({
          status: 'building',
          build: d.build,
          attempt: 1,
          instructions: d.instructions,
          session_status: null,
          failure_reason: null,
          updated_at: d.requestedAt,
        })
        .where('id', '=', d.agentId)
        .execute();
      await history(trx, event, `Rebuild requested (build ${d.build})`);
      return;
    }
  }
}

async function history(trx: Transaction<BrainDb>, event: Event, detail: string): Promise<void> {
  await trx
    .insertInto('agent_history')
    .values({
      agent_id: event.data.agentId,
      revision: event.revision,
      type: event.type,
      at: event.createdAt,
      detail,
    })
    .execute();
}
