import { captureLogger, eventually } from '@meetmatt/infra/testing';
import { DevinError } from '../../src/devin/errors';
import { type SandboxHarness, sessionRequest, startSandbox } from '../support/devin-sandbox';

describe('DevinClient against the sandbox', () => {
  let harness: SandboxHarness;

  beforeAll(async () => {
    harness = await startSandbox({ stepMs: 5 });
  });
  afterAll(() => harness.stop());

  describe('createSession', () => {
    it('when a session is created, then the answer carries its id and URL and no is_new_session', async () => {
      const created = await harness.client().createSession(sessionRequest());

      expect(created.session_id).toMatch(/^devin-[0-9a-f]{32}$/);
      expect(created.url).toBe(`https://app.devin.ai/sessions/${created.session_id.slice(6)}`);
      expect(created.is_new_session).toBeUndefined();
    });

    it('when the same idempotent request is sent twice, then the second answer is the same session, not new', async () => {
      const client = harness.client();
      const request = sessionRequest({ idempotent: true });

      const first = await client.createSession(request);
      const second = await client.createSession(request);

      expect(first.is_new_session).toBe(true);
      expect(second).toEqual({ ...first, is_new_session: false });
      const mine = harness.sandbox.sessions().filter((s) => s.title === request.title);
      expect(mine).toHaveLength(1);
    });

    it('when an idempotent request changes its title, then it is a new session', async () => {
      const client = harness.client();
      const request = sessionRequest({ idempotent: true });

      const first = await client.createSession(request);
      const second = await client.createSession({ ...request, title: `${request.title} v2` });

      expect(second.is_new_session).toBe(true);
      expect(second.session_id).not.toBe(first.session_id);
    });

    it('when the same request is sent twice without idempotent, then two sessions are started', async () => {
      const client = harness.client();
      const request = sessionRequest();

      const first = await client.createSession(request);
      const second = await client.createSession(request);

      expect(second.session_id).not.toBe(first.session_id);
    });

    it('when the request is invalid, then the 422 becomes a DevinError with a readable detail', async () => {
      const error = await harness
        .client()
        .createSession(sessionRequest({ max_acu_limit: 0 }))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(DevinError);
      expect(error).toMatchObject({ kind: 'http', status: 422, retryable: false, attempts: 1 });
      expect((error as DevinError).detail).toMatch(/^body\.max_acu_limit: /);
    });

    it('when the prompt holds an unknown sandbox marker, then the create is refused naming it', async () => {
      const error = await harness
        .client()
        .createSession(sessionRequest({ prompt: 'Build it [devin:finsh]' }))
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ status: 422 });
      expect((error as DevinError).detail).toBe(
        'body.prompt: unknown sandbox marker [devin:finsh]',
      );
    });
  });

  describe('getSession', () => {
    it('when a new session is read, then it has Devin fields and the prompt as the first message', async () => {
      // A session that never finishes: on a busy machine the default one may be done by the read.
      const base = sessionRequest({ snapshot_id: 'snap-1' });
      const request = { ...base, prompt: `${base.prompt} [devin:never]` };
      const { session_id } = await harness.client().createSession(request);

      const session = await harness.client().getSession(session_id);

      expect(session).toMatchObject({
        session_id,
        status: 'running',
        status_enum: 'working',
        title: request.title,
        tags: request.tags,
        pull_request: null,
        structured_output: null,
        snapshot_id: 'snap-1',
      });
      expect(Date.parse(session.created_at)).not.toBeNaN();
      expect(session.messages[0]).toMatchObject({
        type: 'initial_user_message',
        message: request.prompt,
        origin: 'api',
      });
    });

    it('when the session does not exist, then a 404 DevinError with the detail, not retryable', async () => {
      const error = await harness
        .client()
        .getSession('devin-missing')
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(DevinError);
      expect(error).toMatchObject({
        kind: 'http',
        status: 404,
        detail: 'Session devin-missing not found',
        retryable: false,
        method: 'GET',
        path: '/v1/sessions/devin-missing',
      });
    });

    it('when the raw API is asked for an unknown session, then it answers 404 {detail}', async () => {
      const res = await fetch(`${harness.sandbox.url}/v1/sessions/devin-nope`, {
        headers: { Authorization: `Bearer ${harness.apiKey}` },
      });

      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ detail: 'Session devin-nope not found' });
    });
  });

  describe('listSessions', () => {
    it('when sessions are listed by tag with limit and offset, then the matching page comes newest first', async () => {
      const client = harness.client();
      const batch = `batch:${Date.now()}-${Math.random()}`;
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const created = await client.createSession(sessionRequest({ tags: ['meetmatt', batch] }));
        ids.push(created.session_id);
      }
      await client.createSession(sessionRequest({ tags: ['meetmatt'] }));

      const all = await client.listSessions({ tags: ['meetmatt', batch] });
      const page = await client.listSessions({ tags: [batch], limit: 1, offset: 1 });

      expect(all.map((s) => s.session_id)).toEqual([...ids].reverse());
      expect(page.map((s) => s.session_id)).toEqual([ids[1]]);
      expect(all[0]).not.toHaveProperty('url');
      expect(all[0]?.tags).toEqual(['meetmatt', batch]);
    });
  });

  it('when the list query is invalid, then the raw API answers a FastAPI-style 422', async () => {
    const res = await fetch(`${harness.sandbox.url}/v1/sessions?limit=0`, {
      headers: { Authorization: `Bearer ${harness.apiKey}` },
    });

    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      detail: [expect.objectContaining({ type: 'value_error', loc: ['query', 'limit'] })],
    });
  });

  describe('sendMessage', () => {
    it('when a message is sent to a running session, then it is delivered and shows as a user_message', async () => {
      const client = harness.client();
      const { session_id } = await client.createSession(
        sessionRequest({ prompt: 'Build it [devin:never]' }),
      );

      const result = await client.sendMessage(session_id, 'Use the EU region.');

      expect(result).toEqual({ delivered: true });
      const session = await client.getSession(session_id);
      expect(session.messages.filter((m) => m.type === 'user_message')).toEqual([
        expect.objectContaining({ message: 'Use the EU region.', username: 'meetmatt' }),
      ]);
    });

    it('when a message is sent to a finished session, then the answer says it was not delivered', async () => {
      const client = harness.client();
      const { session_id } = await client.createSession(sessionRequest());
      await eventually(
        'the session to finish',
        async () => (await client.getSession(session_id)).status_enum === 'finished',
      );

      const result = await client.sendMessage(session_id, 'One more thing');

      expect(result).toEqual({
        delivered: false,
        detail: `Session ${session_id} has exited; the message was not delivered`,
      });
    });
  });

  describe('terminate', () => {
    it('when a session is terminated twice, then the second answer is already exited', async () => {
      const client = harness.client();
      const { session_id } = await client.createSession(
        sessionRequest({ prompt: 'Build it [devin:never]' }),
      );

      const first = await client.terminate(session_id);
      const second = await client.terminate(session_id);

      expect(first).toEqual({ outcome: 'terminated' });
      expect(second).toEqual({
        outcome: 'already-exited',
        detail: `Session ${session_id} has already exited`,
      });
      const session = await client.getSession(session_id);
      expect(session.status).toBe('exit');
      const deletes = harness.sandbox
        .calls()
        .filter((c) => c.method === 'DELETE' && c.path.endsWith(session_id));
      expect(deletes.map((c) => c.status)).toEqual([200, 400]);
    });

    it('when an unknown session is terminated, then a 404 DevinError', async () => {
      await expect(harness.client().terminate('devin-unknown')).rejects.toMatchObject({
        status: 404,
      });
    });
  });

  describe('auth', () => {
    it('when the key is wrong, then a 401 DevinError that never shows either key', async () => {
      const wrongKey = 'wrong-devin-key-123456';

      const error = await harness
        .client({ apiKey: wrongKey })
        .getSession('devin-x')
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ status: 401, detail: 'Invalid API key', retryable: false });
      const text = `${String(error)} ${JSON.stringify(error)}`;
      expect(text).not.toContain(wrongKey);
      expect(text).not.toContain(harness.apiKey);
    });

    it('when no key is sent, then the raw API answers 401 {detail}', async () => {
      const res = await fetch(`${harness.sandbox.url}/v1/sessions`);

      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toEqual({ detail: 'Not authenticated' });
    });
  });

  describe('logging', () => {
    it('when calls are made, then each is logged with method, path, status, duration and attempt, never the key', async () => {
      const { logger, entries, text } = captureLogger('brain-service');
      const client = harness.client({ logger });

      await client.createSession(sessionRequest());
      await client.getSession('devin-missing').catch(() => undefined);

      const calls = entries.filter((e) => e.message === 'devin call');
      expect(calls).toEqual([
        expect.objectContaining({
          level: 'info',
          method: 'POST',
          path: '/v1/sessions',
          status: 200,
          attempt: 1,
          durationMs: expect.any(Number),
        }),
        expect.objectContaining({
          level: 'warn',
          method: 'GET',
          path: '/v1/sessions/devin-missing',
          status: 404,
        }),
      ]);
      expect(text()).not.toContain(harness.apiKey);
      expect(text()).not.toContain('Bearer');
    });
  });
});
