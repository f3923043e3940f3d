import { classifySession } from '../../src/devin/session-phase';
import { createDevinSandbox } from '../../src/devin/sandbox';
import {
  ManualClock,
  type SandboxHarness,
  freshKey,
  sessionRequest,
  startSandbox,
} from '../support/devin-sandbox';

const STEP_MS = 1_000;

describe('the sandbox control API', () => {
  const clock = new ManualClock();
  let harness: SandboxHarness;
  const control = (path: string, init?: { method?: string; body?: unknown }) =>
    fetch(`${harness.sandbox.url}/sandbox${path}`, {
      method: init?.method ?? 'GET',
      ...(init?.body === undefined
        ? {}
        : { body: JSON.stringify(init.body), headers: { 'Content-Type': 'application/json' } }),
    });

  beforeAll(async () => {
    harness = await startSandbox({ stepMs: STEP_MS, now: clock.now });
  });
  afterAll(() => harness.stop());

  it('when calls were made, then they are listed with method, path, query and body, and no key', async () => {
    const client = harness.client();
    const request = sessionRequest({ secret_ids: ['secret-1'] });
    await client.createSession(request);
    await client.listSessions({ tags: ['meetmatt'], limit: 5 });

    const { calls } = (await (await control('/calls')).json()) as { calls: unknown[] };

    expect(calls).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          method: 'POST',
          path: '/v1/sessions',
          status: 200,
          body: expect.objectContaining({ prompt: request.prompt, secret_ids: '[redacted]' }),
        }),
        expect.objectContaining({
          method: 'GET',
          path: '/v1/sessions',
          query: { tags: 'meetmatt', limit: '5' },
        }),
      ]),
    );
    expect(JSON.stringify(calls)).not.toContain(harness.apiKey);
  });

  it('when a session is forced to blocked, then the client sees it blocked and a message resumes it', async () => {
    const client = harness.client();
    const { session_id } = await client.createSession(sessionRequest());

    const forced = await control(`/sessions/${session_id}/status`, {
      method: 'POST',
      body: { status_enum: 'blocked' },
    });
    const blocked = await client.getSession(session_id);
    await client.sendMessage(session_id, 'Carry on.');
    clock.tick(STEP_MS * 10);
    const after = await client.getSession(session_id);

    expect(forced.status).toBe(200);
    expect(blocked.status_enum).toBe('blocked');
    expect(after.status_enum).toBe('finished');
  });

  it('when a session is forced to finished, then it gets its pull request at once', async () => {
    const client = harness.client();
    const { session_id } = await client.createSession(
      sessionRequest({ prompt: 'Repository: acme/forced [devin:never]' }),
    );

    harness.sandbox.forceStatus(session_id, { status_enum: 'finished' });
    const session = await client.getSession(session_id);

    expect(session).toMatchObject({
      status: 'exit',
      status_enum: 'finished',
      pull_request: { url: 'https://github.com/acme/forced/pull/1' },
    });
  });

  it('when a session is forced to a status Devin never documented, then the client keeps it and waits', async () => {
    const client = harness.client();
    const { session_id } = await client.createSession(sessionRequest());

    harness.sandbox.forceStatus(session_id, { status_enum: 'hibernating' });
    clock.tick(STEP_MS * 10);
    const session = await client.getSession(session_id);

    expect(session.status_enum).toBe('hibernating');
    expect(classifySession(session)).toEqual({ phase: 'working' });
  });

  it('when a session is forced with status exit only, then it is final while status_enum stays', async () => {
    const client = harness.client();
    const { session_id } = await client.createSession(sessionRequest());

    harness.sandbox.forceStatus(session_id, { status: 'exit' });
    const session = await client.getSession(session_id);

    expect(session).toMatchObject({ status: 'exit', status_enum: 'working' });
    expect(classifySession(session)).toEqual({ phase: 'final', reason: 'exited' });
  });

  it('when faults are planned through the API, then the next calls fail and later ones behave', async () => {
    const planned = await control('/faults', { method: 'POST', body: { count: 2, status: 502 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${harness.sandbox.url}/v1/sessions`, {
        headers: { Authorization: `Bearer ${harness.apiKey}` },
      });
      statuses.push(res.status);
    }

    expect(await planned.json()).toEqual({ pending: 2 });
    expect(statuses).toEqual([502, 502, 200]);
  });

  it('when a 429 is planned, then it carries the Retry-After asked for and a detail', async () => {
    await control('/faults', {
      method: 'POST',
      body: { count: 1, status: 429, retry_after_seconds: 7 },
    });

    const res = await fetch(`${harness.sandbox.url}/v1/sessions`, {
      headers: { Authorization: `Bearer ${harness.apiKey}` },
    });

    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toEqual({ detail: 'Too many requests, slow down' });
  });

  it('when a control request is invalid, then it is a FastAPI-style 422', async () => {
    const res = await control('/faults', { method: 'POST', body: { count: 0, status: 404 } });

    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      detail: [
        expect.objectContaining({ loc: ['body', 'count'], type: 'value_error' }),
        expect.objectContaining({ loc: ['body', 'status'], msg: 'expected 429 or a 5xx' }),
      ],
    });
  });

  it('when a session is looked up through the control API, then its scenario and prompt show', async () => {
    const client = harness.client();
    const { session_id } = await client.createSession(
      sessionRequest({ prompt: 'Build it [devin:block:3] [devin:flaky:1]' }),
    );

    const view = (await (await control(`/sessions/${session_id}`)).json()) as Record<
      string,
      unknown
    >;

    expect(view).toMatchObject({
      session_id,
      prompt: 'Build it [devin:block:3] [devin:flaky:1]',
      scenario: { outcome: 'block', blocks: 3, faults: { status: 500, count: 1 } },
      max_acu_limit: 10,
    });
    expect((await control('/sessions/devin-none')).status).toBe(404);
  });

  it('when the sandbox is reset, then sessions, calls and faults are gone', async () => {
    await harness.client().createSession(sessionRequest());
    harness.sandbox.failNext({ count: 5, status: 500 });

    const reset = await control('/reset', { method: 'POST' });

    expect(reset.status).toBe(204);
    expect(harness.sandbox.sessions()).toEqual([]);
    expect(harness.sandbox.calls()).toEqual([]);
    await expect(harness.client().listSessions()).resolves.toEqual([]);
  });
});

describe('the sandbox lifecycle', () => {
  it('when it is stopped, then its port is closed and it has left no timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const sandbox = createDevinSandbox({ apiKey: freshKey(), stepMs: 5 });
    const { url } = await sandbox.start(0);
    await fetch(`${url}/healthz`);

    await sandbox.stop();

    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('when it is started twice, then the second start is refused', async () => {
    const sandbox = createDevinSandbox({ apiKey: freshKey(), stepMs: 5 });
    await sandbox.start(0);
    try {
      await expect(sandbox.start(0)).rejects.toThrow('already started');
    } finally {
      await sandbox.stop();
    }
  });
});
