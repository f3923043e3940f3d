import { randomUUID } from 'node:crypto';
import { agentEvents } from '@meetmatt/contracts';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { type AgentEvent } from '../../src/domain/agent';
import { type AgentCommand, agentDecider, agentErrors } from '../../src/domain/agent-decide';

const now = new Date('2026-12-01T10:00:00.000Z');
const at = now.toISOString();
const spec = deciderSpec(agentDecider);
const OWNER = 'meetmatt-agents';

function ids() {
  return { agentId: randomUUID(), userId: randomUUID(), paymentId: randomUUID() };
}

function requested(id = ids()): Extract<AgentEvent, { type: 'agent.deploy-requested' }> {
  return {
    type: agentEvents.deployRequested.type,
    data: {
      ...id,
      plan: 'starter',
      name: 'Support bot',
      slug: 'support-bot',
      instructions: 'Answer questions.',
      repository: `${OWNER}/support-bot-0a1b2c3d`,
      trigger: 'payment',
      requestedAt: at,
    },
  };
}

function started(
  base: ReturnType<typeof requested>,
  sessionId: string,
  attempt = 1,
  build = 1,
): AgentEvent {
  const { agentId, userId } = base.data;
  return {
    type: agentEvents.sessionStarted.type,
    data: {
      agentId,
      userId,
      sessionId,
      sessionUrl: `https://app.devin.ai/sessions/${sessionId}`,
      attempt,
      build,
      startedAt: at,
    },
  };
}

function failed(
  base: ReturnType<typeof requested>,
  sessionId: string | null,
  attempt: number,
  final: boolean,
): AgentEvent {
  const { agentId, userId, paymentId } = base.data;
  return {
    type: agentEvents.deployFailed.type,
    data: {
      agentId,
      userId,
      paymentId,
      sessionId,
      reason: 'the Devin session expired',
      attempt,
      build: 1,
      final,
      failedAt: at,
    },
  };
}

function deployed(base: ReturnType<typeof requested>, sessionId: string): AgentEvent {
  const { agentId, userId, paymentId, repository } = base.data;
  return {
    type: agentEvents.deployed.type,
    data: {
      agentId,
      userId,
      paymentId,
      sessionId,
      repository,
      pullRequestUrl: `https://github.com/${OWNER}/support-bot-0a1b2c3d/pull/1`,
      structuredOutput: null,
      build: 1,
      deployedAt: at,
    },
  };
}

const fail = (sessionId: string | null, attempt = 1): AgentCommand => ({
  type: 'FailBuild',
  data: { build: 1, attempt, sessionId, reason: 'the Devin session expired', maxAttempts: 2, now },
});

describe('the agent decider', () => {
  test('when a deploy is requested for a new agent, then AgentDeployRequested', () => {
    const event = requested();
    const { requestedAt: _, ...data } = event.data;
    spec
      .given([])
      .when({ type: 'RequestDeploy', data: { ...data, repositoryOwner: OWNER, now } })
      .then([event]);
  });

  test('when a deploy is requested again for the same agent, then nothing happens', () => {
    const event = requested();
    const { requestedAt: _, ...data } = event.data;
    spec
      .given([event])
      .when({
        type: 'RequestDeploy',
        data: { ...data, name: 'Other', repositoryOwner: OWNER, now },
      })
      .thenNothingHappens();
  });

  test('when the first session starts, then DevinSessionStarted for build 1 attempt 1', () => {
    const base = requested();
    spec
      .given([base])
      .when({
        type: 'StartSession',
        data: {
          build: 1,
          attempt: 1,
          sessionId: 's1',
          sessionUrl: 'https://app.devin.ai/sessions/s1',
          now,
        },
      })
      .then([started(base, 's1')]);
  });

  test('when the same session is reported started twice (a tracker resumed), then nothing happens', () => {
    const base = requested();
    spec
      .given([base, started(base, 's1')])
      .when({
        type: 'StartSession',
        data: { build: 1, attempt: 1, sessionId: 's1', sessionUrl: 'x', now },
      })
      .thenNothingHappens();
  });

  test('when another session is reported while one builds, then it is refused as stale', () => {
    const base = requested();
    spec
      .given([base, started(base, 's1')])
      .when({
        type: 'StartSession',
        data: { build: 1, attempt: 1, sessionId: 's2', sessionUrl: 'x', now },
      })
      .thenFails(agentErrors.staleAttempt);
  });

  test('when the first attempt fails, then it is not final, and the next session is attempt 2', () => {
    const base = requested();
    spec
      .given([base, started(base, 's1')])
      .when(fail('s1'))
      .then([failed(base, 's1', 1, false)]);
    spec
      .given([base, started(base, 's1'), failed(base, 's1', 1, false)])
      .when({
        type: 'StartSession',
        data: { build: 1, attempt: 2, sessionId: 's2', sessionUrl: 'u', now },
      })
      .thenState((state) =>
        expect(state).toMatchObject({ status: 'building', attempt: 2, session: { id: 's2' } }),
      );
  });

  test('when the retry fails too, then the failure is final and the agent failed', () => {
    const base = requested();
    const history = [
      base,
      started(base, 's1'),
      failed(base, 's1', 1, false),
      started(base, 's2', 2),
    ];
    spec
      .given(history)
      .when(fail('s2', 2))
      .then([failed(base, 's2', 2, true)]);
    spec
      .given(history)
      .when(fail('s2', 2))
      .thenState((state) => expect(state).toMatchObject({ status: 'failed', session: null }));
  });

  test('when a session that is over reports progress, then it is refused as stale', () => {
    const base = requested();
    spec
      .given([base, started(base, 's1'), failed(base, 's1', 1, false)])
      .when({
        type: 'RecordProgress',
        data: { sessionId: 's1', status: 'working', lines: [], followUpsSent: 0, now },
      })
      .thenFails(agentErrors.staleSession);
  });

  test('when progress changes nothing, then nothing happens; new lines are recorded and counted', () => {
    const base = requested();
    const line = { at, kind: 'devin_message', text: 'Working on it.' };
    const history = [base, started(base, 's1')];
    spec
      .given(history)
      .when({
        type: 'RecordProgress',
        data: {
          sessionId: 's1',
          status: 'working',
          lines: [line, { at, kind: 'status', text: 'working' }],
          followUpsSent: 0,
          now,
        },
      })
      .thenState((state) =>
        expect(state).toMatchObject({ session: { status: 'working', messagesSeen: 1 } }),
      );
    const progressed: AgentEvent = {
      type: agentEvents.buildProgressed.type,
      data: {
        agentId: base.data.agentId,
        sessionId: 's1',
        status: 'working',
        lines: [line],
        followUpsSent: 0,
        at,
      },
    };
    spec
      .given([...history, progressed])
      .when({
        type: 'RecordProgress',
        data: { sessionId: 's1', status: 'working', lines: [], followUpsSent: 0, now },
      })
      .thenNothingHappens();
  });

  test('when the session finished with a result, then AgentDeployed with the repository', () => {
    const base = requested();
    spec
      .given([base, started(base, 's1')])
      .when({
        type: 'CompleteBuild',
        data: {
          sessionId: 's1',
          pullRequestUrl: `https://github.com/${OWNER}/support-bot-0a1b2c3d/pull/1`,
          structuredOutput: null,
          now,
        },
      })
      .then([deployed(base, 's1')]);
  });

  test('when the owner rebuilds a deployed agent, then build 2 is requested with the new instructions', () => {
    const base = requested();
    spec
      .given([base, started(base, 's1'), deployed(base, 's1')])
      .when({
        type: 'RequestRebuild',
        data: {
          userId: base.data.userId,
          admin: false,
          instructions: 'New.',
          buildsIncluded: 3,
          now,
        },
      })
      .then([
        {
          type: agentEvents.rebuildRequested.type,
          data: {
            agentId: base.data.agentId,
            userId: base.data.userId,
            instructions: 'New.',
            build: 2,
            requestedAt: at,
          },
        },
      ]);
  });

  test('when a rebuild omits instructions, then the last ones are kept', () => {
    const base = requested();
    spec
      .given([
        base,
        started(base, 's1'),
        failed(base, 's1', 1, false),
        started(base, 's2', 2),
        failed(base, 's2', 2, true),
      ])
      .when({
        type: 'RequestRebuild',
        data: { userId: base.data.userId, admin: false, buildsIncluded: 3, now },
      })
      .thenState((state) =>
        expect(state).toMatchObject({
          status: 'building',
          build: 2,
          attempt: 1,
          instructions: 'Answer questions.',
        }),
      );
  });

  test('when a rebuild is asked while building, then build-in-progress', () => {
    const base = requested();
    spec
      .given([base, started(base, 's1')])
      .when({
        type: 'RequestRebuild',
        data: { userId: base.data.userId, admin: false, buildsIncluded: 3, now },
      })
      .thenFails(agentErrors.buildInProgress);
  });

  test('when another user asks for a rebuild, then the agent is not found; an operator may', () => {
    const base = requested();
    const history = [base, started(base, 's1'), deployed(base, 's1')];
    spec
      .given(history)
      .when({
        type: 'RequestRebuild',
        data: { userId: randomUUID(), admin: false, buildsIncluded: 3, now },
      })
      .thenFails(agentErrors.notFound);
    spec
      .given(history)
      .when({
        type: 'RequestRebuild',
        data: { userId: randomUUID(), admin: true, buildsIncluded: 3, now },
      })
      .thenState((s) => expect(s).toMatchObject({ build: 2 }));
  });

  test('when a command names an agent that does not exist, then not found', () => {
    spec.given([]).when(fail(null)).thenFails(agentErrors.notFound);
  });
});
