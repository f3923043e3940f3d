import { type CloudEvent, agentEvents } from '@meetmatt/contracts';
import {
  type BrainWorld,
  agentWhen,
  callsFor,
  confirmedPayment,
  publishConfirmed,
  sessionsOf,
  startWorld,
} from '../support/harness';

const FOLLOW_UP = 'Use your best judgement and carry on (test follow-up).';

/** The events the brain published about one agent, once the last one of `type` is there. */
async function publishedUntil(
  world: BrainWorld,
  agentId: string,
  predicate: (event: CloudEvent) => boolean,
  what: string,
): Promise<CloudEvent[]> {
  await world.bus.waitFor(what, (e) => e.subject === `agent-${agentId}` && predicate(e), 20_000);
  return world.bus.of(agentId);
}

interface LogsPage {
  lines: { seq: number; kind: string; text: string }[];
  nextAfter: number | null;
}

const isType = (type: string) => (e: CloudEvent) => e.type === type;
const finalFailure = (e: CloudEvent) =>
  e.type === agentEvents.deployFailed.type && (e.data as { final: boolean }).final;

describe('building an agent with Devin', () => {
  let world: BrainWorld;

  beforeAll(async () => {
    world = await startWorld({
      env: {
        DEVIN_FOLLOW_UP_MESSAGE: FOLLOW_UP,
        DEVIN_FOLLOW_UP_LIMIT: '2',
        DEVIN_BUILD_DEADLINE_MS: '1500',
        DEVIN_PROVIDER_ERROR_LIMIT: '3',
        AGENT_REPOSITORY_OWNER: 'meetmatt-test-agents',
      },
    });
  });
  afterAll(async () => {
    await world?.stop();
  });

  test('when a payment is confirmed, then a Devin session builds the agent and agent.deployed is published with the pull request', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, {
      plan: 'pro',
      agent: { name: 'Invoice Chaser 3000', instructions: 'Chase unpaid invoices politely.' },
    });
    const agentId = await publishConfirmed(world, payment);

    const published = await publishedUntil(
      world,
      agentId,
      isType(agentEvents.deployed.type),
      'agent.deployed',
    );

    // the bus: the whole story, in order, as CloudEvents from the brain
    const types = published.map((e) => e.type);
    expect(types[0]).toBe(agentEvents.deployRequested.type);
    expect(types[1]).toBe(agentEvents.sessionStarted.type);
    expect(types.slice(2, -1).every((t) => t === agentEvents.buildProgressed.type)).toBe(true);
    expect(types.slice(2, -1).length).toBeGreaterThan(0);
    expect(types[types.length - 1]).toBe(agentEvents.deployed.type);
    expect(published.every((e) => e.source === 'brain-service')).toBe(true);
    const repository = `meetmatt-test-agents/invoice-chaser-3000-${agentId.replace(/-/g, '').slice(0, 8)}`;
    const deployed = published[published.length - 1]!;
    expect(deployed.data).toEqual({
      agentId,
      userId: user.userId,
      paymentId: payment.paymentId,
      sessionId: expect.stringMatching(/^devin-/),
      repository,
      pullRequestUrl: `https://github.com/${repository}/pull/1`,
      structuredOutput: expect.objectContaining({ repository, tests_passed: true }),
      build: 1,
      deployedAt: expect.any(String),
    });
    // one correlation id for the whole journey, starting from the payment's
    expect(new Set(published.map((e) => e.correlationid)).size).toBe(1);

    // the call to Devin: idempotent, the plan's budget (configured: the payment named none),
    // the agent named in title and tags
    const [create] = world.sandbox
      .calls()
      .filter((c) => c.method === 'POST' && c.path === '/v1/sessions')
      .filter((c) => JSON.stringify(c.body).includes(agentId));
    const body = create!.body as Record<string, unknown>;
    expect(body).toMatchObject({
      idempotent: true,
      max_acu_limit: 50,
      title: expect.stringContaining('Invoice Chaser 3000'),
      tags: expect.arrayContaining(['meetmatt', `agent:${agentId}`, 'plan:pro']),
    });
    expect(body.prompt).toContain('Chase unpaid invoices politely.');
    expect(body.prompt).toContain(`Repository: ${repository}`);

    // the API: repository, pull request, session URL, history, status, logs
    const agent = await agentWhen(world, user, agentId, 'deployed', (a) => a.status === 'deployed');
    const [session] = sessionsOf(world, agentId);
    expect(agent).toMatchObject({
      id: agentId,
      repository,
      pullRequestUrl: `https://github.com/${repository}/pull/1`,
      sessionUrl: session!.url,
      build: 1,
      buildsIncluded: 10,
      failureReason: null,
      structuredOutput: expect.objectContaining({ pull_request_url: expect.any(String) }),
    });
    expect(agent.history.map((h) => h.type)).toEqual(
      expect.arrayContaining([
        agentEvents.deployRequested.type,
        agentEvents.sessionStarted.type,
        agentEvents.deployed.type,
      ]),
    );
    const status = await world
      .api()
      .get(`/agents/${agentId}/status`)
      .set('Authorization', user.authorization);
    expect(status.body).toEqual({
      id: agentId,
      status: 'deployed',
      sessionStatus: null,
      pullRequestUrl: agent.pullRequestUrl,
      updatedAt: expect.any(String),
    });

    const lines: { seq: number; kind: string; text: string }[] = [];
    let after: number | null = null;
    for (let page = 0; page < 20; page++) {
      const res: { status: number; body: LogsPage } = await world
        .api()
        .get(`/agents/${agentId}/logs`)
        .query({ limit: 2, ...(after === null ? {} : { after }) })
        .set('Authorization', user.authorization);
      expect(res.status).toBe(200);
      if (res.body.lines.length === 0) {
        expect(res.body.nextAfter).toBe(after);
        break;
      }
      expect(res.body.lines.length).toBeLessThanOrEqual(2);
      lines.push(...res.body.lines);
      after = res.body.nextAfter;
    }
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
    const texts = (session!.messages ?? []).map((m) => m.message);
    expect(lines.filter((l) => l.kind !== 'status').map((l) => l.text)).toEqual(texts);
    // how many statuses a poll sees depends on its timing; the last one does not
    expect(lines.filter((l) => l.kind === 'status').pop()?.text).toBe('finished');
  });

  test('when the session blocks, then it is answered with the configured follow-up and goes on to finish', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, {
      agent: { instructions: 'Needs a decision. [devin:block]' },
    });
    const agentId = await publishConfirmed(world, payment);

    const published = await publishedUntil(
      world,
      agentId,
      isType(agentEvents.deployed.type),
      'agent.deployed',
    );

    const sessions = sessionsOf(world, agentId);
    expect(sessions).toHaveLength(1);
    const messages = callsFor(world, sessions[0]!.session_id).filter((c) => c.method === 'POST');
    expect(messages).toHaveLength(1);
    expect(messages[0]!.body).toEqual({ message: FOLLOW_UP });
    const progress = published
      .filter(isType(agentEvents.buildProgressed.type))
      .map((e) => e.data as { status: string; followUpsSent: number });
    expect(progress.map((p) => p.status)).toContain('blocked');
    expect(progress[progress.length - 1]!.followUpsSent).toBe(1);
    const agent = await agentWhen(world, user, agentId, 'deployed', (a) => a.status === 'deployed');
    expect(agent.history.map((h) => h.detail)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Devin session blocked/),
        expect.stringMatching(/^Answered the blocked session \(follow-up 1\)/),
      ]),
    );
  });

  test('when the session keeps blocking past the follow-up limit, then the attempt fails, is retried once, and fails for good', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, {
      agent: { instructions: 'Indecisive [devin:block:5]' },
    });
    const agentId = await publishConfirmed(world, payment);

    const published = await publishedUntil(world, agentId, finalFailure, 'the final failure');

    const sessions = sessionsOf(world, agentId);
    expect(sessions).toHaveLength(2);
    for (const session of sessions) {
      const calls = callsFor(world, session.session_id);
      expect(calls.filter((c) => c.method === 'POST')).toHaveLength(2);
      expect(calls.filter((c) => c.method === 'DELETE')).toHaveLength(1);
    }
    const failures = published
      .filter(isType(agentEvents.deployFailed.type))
      .map((e) => e.data as { attempt: number; final: boolean; reason: string });
    expect(failures).toEqual([
      expect.objectContaining({
        attempt: 1,
        final: false,
        reason: expect.stringMatching(/blocked after 2/),
      }),
      expect.objectContaining({
        attempt: 2,
        final: true,
        reason: expect.stringMatching(/blocked after 2/),
      }),
    ]);
  });

  test('when the session expires, then the build is retried in a fresh session, and agent.deploy-failed (final) is published when that one expires too', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, { agent: { instructions: 'Too slow [devin:expire]' } });
    const agentId = await publishConfirmed(world, payment);

    const published = await publishedUntil(world, agentId, finalFailure, 'the final failure');

    const sessions = sessionsOf(world, agentId);
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => s.status_enum)).toEqual(['expired', 'expired']);
    const started = published
      .filter(isType(agentEvents.sessionStarted.type))
      .map((e) => e.data as { sessionId: string; attempt: number });
    expect(started.map((s) => [s.sessionId, s.attempt])).toEqual([
      [sessions[0]!.session_id, 1],
      [sessions[1]!.session_id, 2],
    ]);
    const failures = published.filter(isType(agentEvents.deployFailed.type));
    expect(failures.map((e) => e.data)).toEqual([
      expect.objectContaining({
        attempt: 1,
        final: false,
        sessionId: sessions[0]!.session_id,
        reason: 'the Devin session expired',
      }),
      {
        agentId,
        userId: user.userId,
        paymentId: payment.paymentId,
        sessionId: sessions[1]!.session_id,
        reason: 'the Devin session expired',
        attempt: 2,
        build: 1,
        final: true,
        failedAt: expect.any(String),
      },
    ]);
    expect(published[published.length - 1]!.type).toBe(agentEvents.deployFailed.type);

    const agent = await agentWhen(world, user, agentId, 'failed', (a) => a.status === 'failed');
    expect(agent.failureReason).toBe('the Devin session expired');
    expect(agent.pullRequestUrl).toBeNull();
  });

  test('when the session never finishes, then the deadline fails each attempt and stops the session', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, { agent: { instructions: 'Forever [devin:never]' } });
    const agentId = await publishConfirmed(world, payment);

    const published = await publishedUntil(world, agentId, finalFailure, 'the final failure');

    const reasons = published
      .filter(isType(agentEvents.deployFailed.type))
      .map((e) => (e.data as { reason: string }).reason);
    expect(reasons).toEqual([
      'the build deadline of 1.5 s passed',
      'the build deadline of 1.5 s passed',
    ]);
    for (const session of sessionsOf(world, agentId)) expect(session.status).toBe('exit');
  });

  test('when Devin answers 500 for a while, then the client and the tracker ride it out and the agent is deployed', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, { agent: { instructions: 'Flaky [devin:flaky:6]' } });
    const agentId = await publishConfirmed(world, payment);

    await publishedUntil(world, agentId, isType(agentEvents.deployed.type), 'agent.deployed');

    const [session] = sessionsOf(world, agentId);
    const failed = callsFor(world, session!.session_id).filter((c) => c.status === 500);
    expect(failed).toHaveLength(6);
    expect(world.bus.of(agentId).filter(isType(agentEvents.deployFailed.type))).toHaveLength(0);
  });

  test('when Devin keeps failing, then the provider error fails the attempt, and the retry too', async () => {
    const user = await world.issuer.user();
    const payment = confirmedPayment(user, { agent: { instructions: 'Down [devin:flaky:1000]' } });
    const agentId = await publishConfirmed(world, payment);

    const published = await publishedUntil(world, agentId, finalFailure, 'the final failure');

    const reasons = published
      .filter(isType(agentEvents.deployFailed.type))
      .map((e) => (e.data as { reason: string }).reason);
    expect(reasons).toHaveLength(2);
    for (const reason of reasons) expect(reason).toMatch(/^Devin could not be reached: .*\(500\)/);
  });

  test('when Devin refuses our API key, then no build fails for it: the build waits and goes on once the key is accepted', async () => {
    world.sandbox.failNext({ count: 8, status: 401, detail: 'Invalid API key' });
    const user = await world.issuer.user();
    const agentId = await publishConfirmed(world, confirmedPayment(user));

    await publishedUntil(world, agentId, isType(agentEvents.deployed.type), 'agent.deployed');

    const refused = world.sandbox.calls().filter((c) => c.status === 401);
    expect(refused.length).toBe(8);
    expect(world.bus.of(agentId).filter(isType(agentEvents.deployFailed.type))).toEqual([]);
    expect(
      world.logs.entries.filter((e) => e.message === 'devin refused our API key').length,
    ).toBeGreaterThan(0);
  });

  test('when the brain talks to Devin, then its API key never reaches a log', () => {
    expect(world.logs.entries.length).toBeGreaterThan(0);
    expect(world.logs.text()).not.toContain(world.devinKey);
  });
});
