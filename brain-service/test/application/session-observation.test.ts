import { type DevinSession } from '../../src/devin';
import { type CurrentSession } from '../../src/domain/agent';
import { MAX_LINES_PER_PROGRESS, observeSession } from '../../src/application/session-observation';

const now = new Date('2026-12-01T10:00:00.000Z');
const policy = { followUpLimit: 2 };

function current(overrides: Partial<CurrentSession> = {}): CurrentSession {
  return {
    id: 'devin-1',
    url: 'https://app.devin.ai/sessions/1',
    startedAt: now.toISOString(),
    status: 'working',
    messagesSeen: 1,
    followUpsSent: 0,
    ...overrides,
  };
}

type Message = DevinSession['messages'][number];
const message = (type: string, text: string, i: number): Message => ({
  type,
  event_id: String(i),
  message: text,
  timestamp: new Date(now.getTime() + i * 1000).toISOString(),
});

function devin(overrides: Partial<DevinSession> = {}): DevinSession {
  return {
    session_id: 'devin-1',
    status: 'running',
    status_enum: 'working',
    title: null,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    tags: [],
    pull_request: null,
    structured_output: null,
    messages: [message('initial_user_message', 'Build it', 0)],
    ...overrides,
  };
}

describe('observing a Devin session', () => {
  test('when nothing changed, then nothing to record and keep waiting', () => {
    expect(observeSession(current(), devin(), policy, now)).toEqual({
      progress: null,
      next: { kind: 'wait' },
    });
  });

  test('when new messages arrived, then they become log lines, oldest first', () => {
    const session = devin({
      messages: [
        message('initial_user_message', 'Build it', 0),
        message('devin_message', 'Planning.', 1),
        message('devin_message', 'Coding.', 2),
      ],
    });
    const { progress } = observeSession(current(), session, policy, now);
    expect(progress).toEqual({
      status: 'working',
      followUpsSent: 0,
      lines: [
        { at: '2026-12-01T10:00:01.000Z', kind: 'devin_message', text: 'Planning.' },
        { at: '2026-12-01T10:00:02.000Z', kind: 'devin_message', text: 'Coding.' },
      ],
    });
  });

  test('when the backlog is longer than one progress event takes, then part of it is recorded and the outcome waits', () => {
    const messages = Array.from({ length: MAX_LINES_PER_PROGRESS + 5 }, (_, i) =>
      message('devin_message', `m${i}`, i),
    );
    const observation = observeSession(
      current({ messagesSeen: 0 }),
      devin({ messages, status_enum: 'finished', status: 'exit', pull_request: { url: 'u' } }),
      policy,
      now,
    );
    expect(observation.progress?.lines.filter((l) => l.kind !== 'status')).toHaveLength(
      MAX_LINES_PER_PROGRESS,
    );
    expect(observation.next).toEqual({ kind: 'wait' });
  });

  test('when the session finished with a pull request, then deployed with it and the output', () => {
    const output = {
      repository: 'acme/bot',
      pull_request_url: 'https://github.com/acme/bot/pull/3',
    };
    const observation = observeSession(
      current(),
      devin({
        status_enum: 'finished',
        status: 'exit',
        pull_request: { url: 'https://github.com/acme/bot/pull/3' },
        structured_output: output,
      }),
      policy,
      now,
    );
    expect(observation.next).toEqual({
      kind: 'deployed',
      pullRequestUrl: 'https://github.com/acme/bot/pull/3',
      structuredOutput: output,
    });
    expect(observation.progress?.lines).toEqual([
      { at: now.toISOString(), kind: 'status', text: 'finished' },
    ]);
  });

  test('when the session finished with only structured output, then its pull_request_url is the pull request', () => {
    const output = { pull_request_url: 'https://github.com/acme/bot/pull/4' };
    expect(
      observeSession(
        current(),
        devin({ status_enum: 'finished', structured_output: output }),
        policy,
        now,
      ).next,
    ).toMatchObject({ kind: 'deployed', pullRequestUrl: 'https://github.com/acme/bot/pull/4' });
  });

  test('when the session finished without any result, then the attempt fails', () => {
    expect(
      observeSession(current(), devin({ status_enum: 'finished', status: 'exit' }), policy, now)
        .next,
    ).toMatchObject({ kind: 'failed', terminate: false });
  });

  test('when the session expired or was terminated, then the attempt fails', () => {
    expect(
      observeSession(current(), devin({ status_enum: 'expired', status: 'exit' }), policy, now)
        .next,
    ).toEqual({ kind: 'failed', reason: 'the Devin session expired', terminate: false });
    const terminated = observeSession(
      current(),
      devin({ status_enum: 'working', status: 'exit' }),
      policy,
      now,
    );
    expect(terminated.next).toMatchObject({
      kind: 'failed',
      reason: expect.stringMatching(/status exit/),
    });
    expect(terminated.progress?.status).toBe('exit');
  });

  test('when the session is blocked on a question, then a follow-up; while our answer is the newest message, wait', () => {
    const question = [
      message('initial_user_message', 'Build it', 0),
      message('devin_message', 'Which provider?', 1),
    ];
    expect(
      observeSession(
        current({ messagesSeen: 2, status: 'blocked' }),
        devin({ status_enum: 'blocked', messages: question }),
        policy,
        now,
      ).next,
    ).toEqual({ kind: 'follow-up' });
    const answered = [...question, message('user_message', 'Your call.', 2)];
    const observation = observeSession(
      current({ messagesSeen: 2, status: 'blocked', followUpsSent: 0 }),
      devin({ status_enum: 'blocked', messages: answered }),
      policy,
      now,
    );
    expect(observation.next).toEqual({ kind: 'wait' });
    // a follow-up sent just before a crash is counted from the session itself
    expect(observation.progress?.followUpsSent).toBe(1);
  });

  test('when the session blocks again after the last follow-up allowed, then the attempt fails and the session is stopped', () => {
    const messages = [
      message('initial_user_message', 'Build it', 0),
      message('devin_message', 'Q1?', 1),
      message('user_message', 'A1', 2),
      message('devin_message', 'Q2?', 3),
      message('user_message', 'A2', 4),
      message('devin_message', 'Q3?', 5),
    ];
    const observation = observeSession(
      current({ messagesSeen: 6, status: 'blocked', followUpsSent: 2 }),
      devin({ status_enum: 'blocked', messages }),
      policy,
      now,
    );
    expect(observation.next).toEqual({
      kind: 'failed',
      reason: 'Devin was still blocked after 2 follow-up messages',
      terminate: true,
    });
  });

  test('when Devin reports a status we do not know, then it is recorded and we keep waiting', () => {
    const observation = observeSession(
      current(),
      devin({ status_enum: 'suspend_requested' }),
      policy,
      now,
    );
    expect(observation.next).toEqual({ kind: 'wait' });
    expect(observation.progress?.status).toBe('suspend_requested');
  });
});
