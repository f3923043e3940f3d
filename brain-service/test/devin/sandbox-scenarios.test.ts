import { type DevinClient } from '../../src/devin/client';
import { type DevinSession } from '../../src/devin/api-schemas';
import { classifySession } from '../../src/devin/session-phase';
import { eventually } from '@meetmatt/infra/testing';
import {
  ManualClock,
  type SandboxHarness,
  sessionRequest,
  startSandbox,
} from '../support/devin-sandbox';

const STEP_MS = 1_000;

interface Played {
  /** status_enum values in the order seen, repeats collapsed. */
  sequence: (string | null)[];
  last: DevinSession;
}

/**
 * Polls a session once per sandbox step, the way the brain's tracker will, answering when
 * it is blocked, until it is final or `maxSteps` have passed.
 */
async function play(
  client: DevinClient,
  clock: ManualClock,
  sessionId: string,
  options: { answer?: string; maxSteps?: number } = {},
): Promise<Played> {
  const sequence: (string | null)[] = [];
  for (let step = 0; ; step += 1) {
    const session = await client.getSession(sessionId);
    if (sequence.at(-1) !== session.status_enum) sequence.push(session.status_enum);
    const phase = classifySession(session).phase;
    if (phase === 'final' || step >= (options.maxSteps ?? 50)) return { sequence, last: session };
    if (phase === 'blocked' && options.answer) await client.sendMessage(sessionId, options.answer);
    clock.tick(STEP_MS);
  }
}

describe('sandbox scenarios, observed by polling', () => {
  const clock = new ManualClock();
  let harness: SandboxHarness;
  let client: DevinClient;

  beforeAll(async () => {
    harness = await startSandbox({ stepMs: STEP_MS, now: clock.now });
    client = harness.client();
  });
  afterAll(() => harness.stop());

  const create = async (prompt: string) =>
    (await client.createSession(sessionRequest({ prompt }))).session_id;

  it('when no marker is given, then the session works and finishes with a pull request and output', async () => {
    const id = await create('Build a weather agent in https://github.com/acme/weather-bot.');

    const { sequence, last } = await play(client, clock, id);

    expect(sequence).toEqual(['working', 'finished']);
    expect(last.status).toBe('exit');
    expect(last.pull_request?.url).toMatch(/^https:\/\/github\.com\/acme\/weather-bot\/pull\/\d+$/);
    expect(last.structured_output).toMatchObject({
      repository: 'acme/weather-bot',
      pull_request_url: last.pull_request?.url,
      tests_passed: true,
    });
    expect(last.messages.map((m) => m.type)).toEqual([
      'initial_user_message',
      'devin_message',
      'devin_message',
      'devin_message',
      'devin_message',
    ]);
    const times = last.messages.map((m) => Date.parse(m.timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('when [devin:finish:6] is given, then six work messages come before the pull request', async () => {
    const id = await create('Repository: acme/long-build [devin:finish:6]');

    const { last } = await play(client, clock, id);

    const devin = last.messages.filter((m) => m.type === 'devin_message');
    expect(devin).toHaveLength(7);
    expect(devin.at(-1)?.message).toContain('https://github.com/acme/long-build/pull/1');
  });

  it('when messages accumulate, then each poll sees the earlier ones unchanged, with new ones after', async () => {
    const id = await create('Build it [devin:finish:4]');

    const first = await client.getSession(id);
    clock.tick(STEP_MS * 2);
    const second = await client.getSession(id);

    expect(first.messages).toHaveLength(1);
    expect(second.messages).toHaveLength(3);
    expect(second.messages.slice(0, 1)).toEqual(first.messages);
  });

  it('when [devin:block] is given, then it blocks until a message arrives, then resumes and finishes', async () => {
    const id = await create('Build it [devin:block]');

    const { sequence, last } = await play(client, clock, id, { answer: 'Use OpenAI.' });

    expect(sequence).toEqual(['working', 'blocked', 'working', 'finished']);
    expect(last.pull_request).not.toBeNull();
    const types = last.messages.map((m) => m.type);
    expect(types.indexOf('user_message')).toBeGreaterThan(types.indexOf('devin_message'));
  });

  it('when [devin:block:2] is given, then it blocks twice, each time until answered', async () => {
    const id = await create('Build it [devin:block:2]');

    const { sequence, last } = await play(client, clock, id, { answer: 'Yes.' });

    expect(sequence).toEqual(['working', 'blocked', 'working', 'blocked', 'working', 'finished']);
    expect(last.messages.filter((m) => m.type === 'user_message')).toHaveLength(2);
  });

  it('when a blocked session gets no message, then it stays blocked however long it waits', async () => {
    const id = await create('Build it [devin:block]');

    const { sequence, last } = await play(client, clock, id, { maxSteps: 20 });

    expect(sequence).toEqual(['working', 'blocked']);
    expect(classifySession(last)).toEqual({ phase: 'blocked' });
  });

  it('when [devin:expire] is given, then it works and expires without a pull request', async () => {
    const id = await create('Build it [devin:expire]');

    const { sequence, last } = await play(client, clock, id);

    expect(sequence).toEqual(['working', 'expired']);
    expect(last).toMatchObject({ status: 'exit', pull_request: null, structured_output: null });
    expect(classifySession(last)).toEqual({ phase: 'final', reason: 'expired' });
  });

  it('when [devin:never] is given, then it is still working after any number of steps', async () => {
    const id = await create('Build it [devin:never]');

    const { sequence, last } = await play(client, clock, id, { maxSteps: 40 });

    expect(sequence).toEqual(['working']);
    expect(last.status).toBe('running');
  });

  it('when [devin:suspend] is given, then it passes the suspend and resume values, then finishes', async () => {
    const id = await create('Build it [devin:suspend]');

    const { sequence } = await play(client, clock, id);

    expect(sequence).toEqual([
      'working',
      'suspend_requested',
      'resume_requested',
      'resumed',
      'finished',
    ]);
  });

  it('when two sessions finish in one repository, then their pull requests are numbered in turn', async () => {
    const a = await create('Repository: acme/shared-repo');
    const b = await create('Repository: acme/shared-repo');

    const first = await play(client, clock, a);
    const second = await play(client, clock, b);

    expect(first.last.pull_request?.url).toBe('https://github.com/acme/shared-repo/pull/1');
    expect(second.last.pull_request?.url).toBe('https://github.com/acme/shared-repo/pull/2');
  });

  it('when a prompt names two outcomes, then the create is refused', async () => {
    await expect(create('[devin:block] and [devin:expire]')).rejects.toMatchObject({
      status: 422,
      detail: 'body.prompt: prompt has two outcomes: [devin:block] and [devin:expire]',
    });
  });
});

describe('sandbox scenarios on the real clock', () => {
  let harness: SandboxHarness;

  beforeAll(async () => {
    harness = await startSandbox({ stepMs: 3 });
  });
  afterAll(() => harness.stop());

  it('when a blocked session is answered, then it goes on to finish by itself', async () => {
    const client = harness.client();
    const { session_id } = await client.createSession(
      sessionRequest({ prompt: 'Build it [devin:block]' }),
    );
    const status = async () => (await client.getSession(session_id)).status_enum;
    await eventually('the session to be blocked', async () => (await status()) === 'blocked');

    await client.sendMessage(session_id, 'Go ahead.');

    const finished = await eventually('the session to finish', async () => {
      const session = await client.getSession(session_id);
      return session.status_enum === 'finished' && session;
    });
    expect(finished.pull_request).not.toBeNull();
  });
});
