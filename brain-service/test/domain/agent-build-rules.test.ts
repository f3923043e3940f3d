import { randomUUID } from 'node:crypto';
import { agentEvents } from '@meetmatt/contracts';
import { deciderSpec } from '@meetmatt/infra/domain/testing';
import { type AgentEvent, needsSession } from '../../src/domain/agent';
import { type AgentCommand, agentDecider, agentErrors } from '../../src/domain/agent-decide';

/** The rules that bound Devin spend: where builds run, how many, and none after a refund. */

const now = new Date('2026-12-01T10:00:00.000Z');
const at = now.toISOString();
const spec = deciderSpec(agentDecider);
const OWNER = 'meetmatt-agents';

type Requested = Extract<AgentEvent, { type: 'agent.deploy-requested' }>;

function requested(overrides: Partial<Requested['data']> = {}): Requested {
  return {
    type: agentEvents.deployRequested.type,
    data: {
      agentId: randomUUID(),
      userId: randomUUID(),
      paymentId: randomUUID(),
      plan: 'starter',
      name: 'Support bot',
      slug: 'support-bot',
      instructions: 'Answer questions.',
      repository: `${OWNER}/support-bot-0a1b2c3d`,
      buildsIncluded: 3,
      trigger: 'payment',
      requestedAt: at,
      ...overrides,
    },
  };
}

function deployCommand(base: Requested, repository: string): AgentCommand {
  const { requestedAt: _, ...data } = base.data;
  return { type: 'RequestDeploy', data: { ...data, repository, repositoryOwner: OWNER, now } };
}

function started(base: Requested, sessionId: string, build = 1): AgentEvent {
  return {
    type: agentEvents.sessionStarted.type,
    data: {
      agentId: base.data.agentId,
      userId: base.data.userId,
      sessionId,
      sessionUrl: `https://app.devin.ai/sessions/${sessionId}`,
      attempt: 1,
      build,
      startedAt: at,
    },
  };
}

function deployed(base: Requested, sessionId: string, build = 1): AgentEvent {
  return {
    type: agentEvents.deployed.type,
    data: {
      agentId: base.data.agentId,
      userId: base.data.userId,
      paymentId: base.data.paymentId,
      sessionId,
      repository: base.data.repository,
      pullRequestUrl: null,
      structuredOutput: null,
      build,
      deployedAt: at,
    },
  };
}

function rebuilt(base: Requested, build: number): AgentEvent {
  return {
    type: agentEvents.rebuildRequested.type,
    data: {
      agentId: base.data.agentId,
      userId: base.data.userId,
      instructions: 'Again.',
      build,
      requestedAt: at,
    },
  };
}

/** The first deploy and `builds - 1` rebuilds, each deployed. */
function builtTimes(base: Requested, builds: number): AgentEvent[] {
  const events: AgentEvent[] = [base];
  for (let build = 1; build <= builds; build++) {
    if (build > 1) events.push(rebuilt(base, build));
    events.push(started(base, `s${build}`, build), deployed(base, `s${build}`, build));
  }
  return events;
}

function blockedBy(base: Requested, reason: 'refund-requested' | 'refunded'): AgentEvent {
  const { agentId, userId, paymentId } = base.data;
  return {
    type: agentEvents.buildsBlocked.type,
    data: { agentId, userId, paymentId, reason, at },
  };
}

const rebuild = (base: Requested, buildsIncluded = 3): AgentCommand => ({
  type: 'RequestRebuild',
  data: { userId: base.data.userId, admin: false, buildsIncluded, now },
});

const block = (base: Requested, reason: 'refund-requested' | 'refunded'): AgentCommand => ({
  type: 'BlockBuilds',
  data: {
    agentId: base.data.agentId,
    userId: base.data.userId,
    paymentId: base.data.paymentId,
    reason,
    now,
  },
});

describe('where Devin may build', () => {
  test('when a deploy names a repository of another owner, then foreign-repository and nothing is recorded', () => {
    const base = requested();
    for (const repository of ['meetmatt/backend', 'MeetMatt-Agents-evil/x', 'acme/support-bot']) {
      spec.given([]).when(deployCommand(base, repository)).thenFails(agentErrors.foreignRepository);
    }
  });

  test('when a deploy names a path in disguise under our owner, then foreign-repository', () => {
    const base = requested();
    for (const repository of [
      `${OWNER}/..`,
      `${OWNER}/a/b`,
      `${OWNER}/`,
      `${OWNER}`,
      `${OWNER}/name with space`,
    ]) {
      spec.given([]).when(deployCommand(base, repository)).thenFails(agentErrors.foreignRepository);
    }
  });

  test('when a deploy names a repository under our owner, then it is requested there', () => {
    const base = requested();
    spec.given([]).when(deployCommand(base, base.data.repository)).then([base]);
  });
});

describe('how many builds a plan pays for', () => {
  test('when a starter agent has run its 3 builds, then a 4th is refused with build-quota-exhausted', () => {
    const base = requested({ buildsIncluded: 3 });
    const error = spec
      .given(builtTimes(base, 3))
      .when(rebuild(base))
      .thenFails(agentErrors.buildQuotaExhausted);
    expect(error.message).toMatch(/starter plan includes 3 builds/);
  });

  test('when a starter agent has run 2 builds, then the 3rd is requested', () => {
    const base = requested({ buildsIncluded: 3 });
    spec
      .given(builtTimes(base, 2))
      .when(rebuild(base))
      .then([rebuilt(base, 3)]);
  });

  test('when the deploy recorded the plan’s builds, then they count, not what the configuration says now', () => {
    const base = requested({ plan: 'pro', buildsIncluded: 10 });
    spec
      .given(builtTimes(base, 3))
      .when(rebuild(base, 3))
      .then([rebuilt(base, 4)]);
  });

  test('when an older deploy recorded no count, then the count the command brings applies', () => {
    const { buildsIncluded: _, ...data } = requested().data;
    const base: Requested = { type: agentEvents.deployRequested.type, data };
    spec
      .given(builtTimes(base, 2))
      .when(rebuild(base, 2))
      .thenFails(agentErrors.buildQuotaExhausted);
  });

  test('when an operator rebuilds past the plan’s builds, then they are refused too', () => {
    const base = requested({ buildsIncluded: 1 });
    spec
      .given(builtTimes(base, 1))
      .when({
        type: 'RequestRebuild',
        data: { userId: randomUUID(), admin: true, buildsIncluded: 1, now },
      })
      .thenFails(agentErrors.buildQuotaExhausted);
  });
});

describe('no build after a refund', () => {
  test('when a refund was requested for a deployed agent, then a rebuild is refused with builds-blocked', () => {
    const base = requested();
    spec
      .given([...builtTimes(base, 1), blockedBy(base, 'refund-requested')])
      .when(rebuild(base))
      .thenFails(agentErrors.buildsBlocked);
  });

  test('when the payment was refunded, then a rebuild is refused with builds-blocked', () => {
    const base = requested();
    spec
      .given([...builtTimes(base, 1), blockedBy(base, 'refunded')])
      .when(rebuild(base))
      .thenFails(agentErrors.buildsBlocked);
  });

  test('when the refund came before any deploy, then the deploy is refused', () => {
    const base = requested();
    spec
      .given([blockedBy(base, 'refund-requested')])
      .when(deployCommand(base, base.data.repository))
      .thenFails(agentErrors.buildsBlocked);
  });

  test('when a refund is requested, then AgentBuildsBlocked, once', () => {
    const base = requested();
    spec
      .given(builtTimes(base, 1))
      .when(block(base, 'refund-requested'))
      .then([blockedBy(base, 'refund-requested')]);
    spec
      .given([...builtTimes(base, 1), blockedBy(base, 'refund-requested')])
      .when(block(base, 'refunded'))
      .thenNothingHappens();
  });

  test('when a refund is requested before any deploy, then AgentBuildsBlocked opens the stream', () => {
    const base = requested();
    spec
      .given([])
      .when(block(base, 'refund-requested'))
      .thenState((state) =>
        expect(state).toEqual({ exists: false, blockedBy: 'refund-requested' }),
      );
  });

  test('when builds are blocked while a build waits for its session, then no session may start and the build is stopped', () => {
    const base = requested();
    const history = [base, blockedBy(base, 'refund-requested')];
    spec
      .given(history)
      .when({
        type: 'StartSession',
        data: { build: 1, attempt: 1, sessionId: 's1', sessionUrl: 'x', now },
      })
      .thenFails(agentErrors.buildsBlocked);
    spec
      .given(history)
      .when(stop(null))
      .then([stopped(base, null)]);
    spec
      .given(history)
      .when(stop(null))
      .thenState((state) => {
        expect(state).toMatchObject({ status: 'failed', session: null });
        expect(needsSession(state)).toBe(false);
      });
  });

  test('when builds are blocked while a session runs, then that session’s build is stopped for good', () => {
    const base = requested();
    spec
      .given([base, started(base, 's1'), blockedBy(base, 'refunded')])
      .when(stop('s1'))
      .then([stopped(base, 's1')]);
  });
});

const REASON = 'stopped: a refund of the payment was requested';

function stop(sessionId: string | null): AgentCommand {
  return { type: 'StopBuild', data: { build: 1, attempt: 1, sessionId, reason: REASON, now } };
}

function stopped(base: Requested, sessionId: string | null): AgentEvent {
  return {
    type: agentEvents.buildStopped.type,
    data: {
      agentId: base.data.agentId,
      userId: base.data.userId,
      paymentId: base.data.paymentId,
      sessionId,
      reason: REASON,
      attempt: 1,
      build: 1,
      stoppedAt: at,
    },
  };
}
