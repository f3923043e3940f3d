import { randomUUID } from 'node:crypto';
import { type Database, type RecordedEvent, createDatabase } from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { type BrainDb } from '../../src/database';
import { type AgentEvent } from '../../src/domain/agent';
import { agentsProjection } from '../../src/projections/agents-projection';

/** The read model fed events directly, as the projection runner would, against PostgreSQL. */
describe('agents projection', () => {
  let testDb: TestDatabase;
  let database: Database<BrainDb>;

  beforeAll(async () => {
    testDb = await createTestDatabase('brain_agents_projection');
    database = createDatabase<BrainDb>({ url: testDb.url });
    await agentsProjection.createTables(database.db as never, 'public');
  });

  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  /** One agent's stream: each event gets the next revision and a creation time of its own. */
  function stream(agentId: string) {
    let revision = 0;
    return (event: AgentEvent): RecordedEvent => ({
      ...event,
      id: randomUUID(),
      metadata: { correlationId: 'c', causationId: 'c', schemaVersion: 1 },
      streamId: `agent-${agentId}`,
      revision: revision,
      position: { commit: 1n, prepare: BigInt(revision) },
      createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, revision++)),
    });
  }

  const apply = (events: RecordedEvent[]) =>
    database.db
      .transaction()
      .execute((trx) =>
        agentsProjection.apply(trx as never, events, { schema: 'public', rebuilding: false }),
      );

  const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 12, minute)).toISOString();

  async function rowsOf(agentId: string) {
    const { db } = database;
    const [agent, history, lines] = await Promise.all([
      db.selectFrom('agents').selectAll().where('id', '=', agentId).executeTakeFirst(),
      db
        .selectFrom('agent_history')
        .select(['revision', 'type', 'detail'])
        .where('agent_id', '=', agentId)
        .orderBy('revision')
        .execute(),
      db
        .selectFrom('agent_log_lines')
        .select(['seq', 'session_id', 'kind', 'text'])
        .where('agent_id', '=', agentId)
        .orderBy('seq')
        .execute(),
    ]);
    return { agent, history, lines };
  }

  test('when an agent goes through every event, then its row, history and log lines follow each one', async () => {
    const agentId = randomUUID();
    const userId = randomUUID();
    const paymentId = randomUUID();
    const ids = { agentId, userId, paymentId };
    const recorded = stream(agentId);
    await apply(
      (
        [
          {
            type: 'agent.deploy-requested',
            data: {
              ...ids,
              plan: 'starter',
              name: 'Bot',
              slug: 'bot',
              instructions: 'Help',
              repository: 'meetmatt/bot',
              buildsIncluded: 3,
              trigger: 'payment',
              requestedAt: at(0),
            },
          },
          {
            type: 'agent.session-started',
            data: {
              agentId,
              userId,
              sessionId: 's1',
              sessionUrl: 'https://devin/s1',
              attempt: 1,
              build: 1,
              startedAt: at(1),
            },
          },
          {
            type: 'agent.build-progressed',
            data: {
              agentId,
              sessionId: 's1',
              status: 'working',
              lines: [
                { at: at(2), kind: 'devin_message', text: 'cloning' },
                { at: at(2), kind: 'devin_message', text: 'building' },
              ],
              followUpsSent: 0,
              at: at(2),
            },
          },
          // Same status, no follow-up, no lines: nothing a user cares about, no history line.
          {
            type: 'agent.build-progressed',
            data: {
              agentId,
              sessionId: 's1',
              status: 'working',
              lines: [],
              followUpsSent: 0,
              at: at(3),
            },
          },
          {
            type: 'agent.build-progressed',
            data: {
              agentId,
              sessionId: 's1',
              status: 'blocked',
              lines: [{ at: at(4), kind: 'status', text: 'blocked' }],
              followUpsSent: 1,
              at: at(4),
            },
          },
          {
            type: 'agent.deploy-failed',
            data: {
              ...ids,
              sessionId: 's1',
              reason: 'tests failed',
              attempt: 1,
              build: 1,
              final: false,
              failedAt: at(5),
            },
          },
          {
            type: 'agent.session-started',
            data: {
              agentId,
              userId,
              sessionId: 's2',
              sessionUrl: 'https://devin/s2',
              attempt: 2,
              build: 1,
              startedAt: at(6),
            },
          },
          {
            type: 'agent.deployed',
            data: {
              ...ids,
              sessionId: 's2',
              repository: 'meetmatt/bot-2',
              pullRequestUrl: 'https://github.com/meetmatt/bot-2/pull/1',
              structuredOutput: { ok: true },
              build: 1,
              deployedAt: at(7),
            },
          },
          {
            type: 'agent.rebuild-requested',
            data: { agentId, userId, instructions: 'Help more', build: 2, requestedAt: at(8) },
          },
          {
            type: 'agent.builds-blocked',
            data: { ...ids, reason: 'refund-requested', at: at(9) },
          },
          {
            type: 'agent.build-stopped',
            data: {
              ...ids,
              sessionId: null,
              reason: 'stopped: builds are blocked',
              attempt: 1,
              build: 2,
              stoppedAt: at(10),
            },
          },
        ] satisfies AgentEvent[]
      ).map(recorded),
    );

    const { agent, history, lines } = await rowsOf(agentId);
    expect(agent).toMatchObject({
      user_id: userId,
      payment_id: paymentId,
      plan: 'starter',
      name: 'Bot',
      slug: 'bot',
      instructions: 'Help more',
      repository: 'meetmatt/bot-2',
      status: 'failed',
      build: 2,
      builds_included: 3,
      attempt: 1,
      session_id: 's2',
      session_url: 'https://devin/s2',
      session_status: null,
      follow_ups_sent: 0,
      pull_request_url: 'https://github.com/meetmatt/bot-2/pull/1',
      structured_output: { ok: true },
      failure_reason: 'stopped: builds are blocked',
      log_lines: 3,
      created_at: new Date(at(0)),
      updated_at: new Date(at(10)),
    });
    expect(history).toEqual([
      {
        revision: 0,
        type: 'agent.deploy-requested',
        detail: 'Deploy requested (on payment); repository meetmatt/bot',
      },
      {
        revision: 1,
        type: 'agent.session-started',
        detail: 'Devin session s1 started (build 1, attempt 1): https://devin/s1',
      },
      { revision: 2, type: 'agent.build-progressed', detail: 'Devin session working' },
      {
        revision: 4,
        type: 'agent.build-progressed',
        detail: 'Answered the blocked session (follow-up 1); Devin session blocked',
      },
      {
        revision: 5,
        type: 'agent.deploy-failed',
        detail: 'Build 1 attempt 1 failed, retrying with a new session: tests failed',
      },
      {
        revision: 6,
        type: 'agent.session-started',
        detail: 'Devin session s2 started (build 1, attempt 2): https://devin/s2',
      },
      {
        revision: 7,
        type: 'agent.deployed',
        detail: 'Deployed (build 1): https://github.com/meetmatt/bot-2/pull/1',
      },
      { revision: 8, type: 'agent.rebuild-requested', detail: 'Rebuild requested (build 2)' },
      {
        revision: 9,
        type: 'agent.builds-blocked',
        detail: expect.stringMatching(/^No more builds: .+/),
      },
      {
        revision: 10,
        type: 'agent.build-stopped',
        detail: 'Build 2 attempt 1 stopped: builds are blocked',
      },
    ]);
    expect(lines).toEqual([
      { seq: 1, session_id: 's1', kind: 'devin_message', text: 'cloning' },
      { seq: 2, session_id: 's1', kind: 'devin_message', text: 'building' },
      { seq: 3, session_id: 's1', kind: 'status', text: 'blocked' },
    ]);
  });

  test('when a failure is final, then the agent is failed at that attempt; a deploy by the user says so', async () => {
    const agentId = randomUUID();
    const ids = { agentId, userId: randomUUID(), paymentId: randomUUID() };
    const recorded = stream(agentId);
    await apply(
      (
        [
          {
            type: 'agent.deploy-requested',
            data: {
              ...ids,
              plan: 'starter',
              name: 'Bot',
              slug: 'bot',
              instructions: 'Help',
              repository: 'meetmatt/bot',
              trigger: 'user',
              requestedAt: at(0),
            },
          },
          {
            type: 'agent.deploy-failed',
            data: {
              ...ids,
              sessionId: null,
              reason: 'no session',
              attempt: 2,
              build: 1,
              final: true,
              failedAt: at(1),
            },
          },
        ] satisfies AgentEvent[]
      ).map(recorded),
    );
    const { agent, history } = await rowsOf(agentId);
    expect(agent).toMatchObject({
      status: 'failed',
      attempt: 2,
      builds_included: null,
      failure_reason: 'no session',
    });
    expect(history.map((line) => line.detail)).toEqual([
      'Deploy requested (by the user); repository meetmatt/bot',
      'Build 1 attempt 2 failed: no session',
    ]);
  });

  test('when builds are blocked before any deploy, then there is no agent and no history to show it on', async () => {
    const agentId = randomUUID();
    await apply([
      stream(agentId)({
        type: 'agent.builds-blocked',
        data: {
          agentId,
          userId: randomUUID(),
          paymentId: randomUUID(),
          reason: 'refunded',
          at: at(0),
        },
      }),
    ]);
    expect(await rowsOf(agentId)).toEqual({ agent: undefined, history: [], lines: [] });
  });
});
