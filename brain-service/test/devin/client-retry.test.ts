import { captureLogger, eventually } from '@meetmatt/infra/testing';
import { DevinClient } from '../../src/devin/client';
import { DevinError } from '../../src/devin/errors';
import {
  type SandboxHarness,
  fastRetry,
  json,
  sessionRequest,
  startSandbox,
  startStub,
} from '../support/devin-sandbox';

describe('DevinClient retries and failures', () => {
  let harness: SandboxHarness;

  // Sessions that stay working for the whole suite: only the failures change.
  beforeAll(async () => {
    harness = await startSandbox({ stepMs: 60_000 });
  });
  afterEach(() => harness.sandbox.failNext({ count: 0, status: 500 }));
  afterAll(() => harness.stop());

  const statusesOf = (path: string) =>
    harness.sandbox
      .calls()
      .filter((c) => c.path === path)
      .map((c) => c.status);

  it('when the API answers 500 for a while, then the client retries until it succeeds', async () => {
    const { logger, entries } = captureLogger();
    const { session_id } = await harness.client().createSession(sessionRequest());
    harness.sandbox.failNext({ count: 2, status: 500 });

    const session = await harness.client({ logger }).getSession(session_id);

    expect(session.session_id).toBe(session_id);
    expect(statusesOf(`/v1/sessions/${session_id}`)).toEqual([500, 500, 200]);
    expect(entries.map((e) => [e.outcome, e.attempt, e.status])).toEqual([
      ['retrying', 1, 500],
      ['retrying', 2, 500],
      ['answered', 3, 200],
    ]);
  });

  it('when the API answers 429 with Retry-After for a while, then the client waits and succeeds', async () => {
    const { session_id } = await harness.client().createSession(sessionRequest());
    harness.sandbox.failNext({ count: 3, status: 429, retryAfterSeconds: 0 });

    const result = await harness.client().sendMessage(session_id, 'hello');

    expect(result).toEqual({ delivered: true });
    expect(statusesOf(`/v1/sessions/${session_id}/message`)).toEqual([429, 429, 429, 200]);
  });

  it('when the failures outlast the retries, then a retryable DevinError names the last status', async () => {
    harness.sandbox.failNext({ count: 10, status: 503 });

    const error = await harness
      .client()
      .listSessions()
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DevinError);
    expect(error).toMatchObject({
      kind: 'http',
      status: 503,
      detail: 'Service Unavailable',
      retryable: true,
      attempts: fastRetry.maxAttempts,
    });
  });

  it('when a session is marked [devin:flaky:2], then reading it succeeds after two 500s', async () => {
    const client = harness.client();
    const { session_id } = await client.createSession(
      sessionRequest({ prompt: 'Build it [devin:flaky:2]' }),
    );

    const session = await client.getSession(session_id);

    expect(session.status_enum).toBe('working');
    expect(statusesOf(`/v1/sessions/${session_id}`)).toEqual([500, 500, 200]);
  });

  it('when a session is marked [devin:throttle:2], then reading it succeeds after two 429s', async () => {
    const client = harness.client();
    const { session_id } = await client.createSession(
      sessionRequest({ prompt: 'Build it [devin:throttle:2] [devin:never]' }),
    );

    await client.getSession(session_id);

    expect(statusesOf(`/v1/sessions/${session_id}`)).toEqual([429, 429, 200]);
  });

  it('when a create without idempotent meets a 500, then it is not repeated, since a session may exist', async () => {
    const request = sessionRequest();
    harness.sandbox.failNext({ count: 1, status: 500 });
    const before = statusesOf('/v1/sessions').length;

    const error = await harness
      .client()
      .createSession(request)
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ status: 500, retryable: true, attempts: 1 });
    expect(statusesOf('/v1/sessions').slice(before)).toEqual([500]);
  });

  it('when a create without idempotent meets a 429, then it is repeated: Devin did nothing', async () => {
    harness.sandbox.failNext({ count: 1, status: 429, retryAfterSeconds: 0 });

    const created = await harness.client().createSession(sessionRequest());

    expect(created.session_id).toMatch(/^devin-/);
  });

  it('when an idempotent create meets 500s, then it is repeated and one session results', async () => {
    const request = sessionRequest({ idempotent: true });
    harness.sandbox.failNext({ count: 2, status: 500 });

    const created = await harness.client().createSession(request);

    expect(created.is_new_session).toBe(true);
    expect(harness.sandbox.sessions().filter((s) => s.title === request.title)).toHaveLength(1);
    const attempts = harness.sandbox
      .calls()
      .filter((c) => (c.body as { title?: string } | undefined)?.title === request.title);
    expect(attempts.map((c) => c.status)).toEqual([500, 500, 200]);
  });

  it('when Retry-After asks for longer than the client waits, then it fails at once carrying the wait', async () => {
    harness.sandbox.failNext({ count: 1, status: 429, retryAfterSeconds: 120 });

    const error = await harness
      .client()
      .listSessions()
      .catch((e: unknown) => e);

    expect(error).toMatchObject({
      status: 429,
      retryable: true,
      attempts: 1,
      retryAfterMs: 120_000,
    });
  });

  it('when the caller aborts while the client backs off, then the call ends as aborted', async () => {
    harness.sandbox.failNext({ count: 10, status: 500 });
    const controller = new AbortController();
    const client = harness.client({ retry: { maxAttempts: 5, minDelayMs: 10_000 } });

    const before = statusesOf('/v1/sessions').length;

    const pending = client.listSessions({}, { signal: controller.signal }).catch((e: unknown) => e);
    await eventually(
      'the first attempt to be answered',
      () => statusesOf('/v1/sessions').length > before,
    );
    controller.abort();

    expect(await pending).toMatchObject({ kind: 'aborted', retryable: false });
  });
});

describe('DevinClient against servers the sandbox does not imitate', () => {
  const apiKey = 'stub-devin-key-7f3a9c';
  const clientFor = (url: string, timeoutMs = 2_000) =>
    new DevinClient({ apiUrl: url, apiKey, timeoutMs, retry: fastRetry });

  it('when the server never answers, then each attempt times out and a timeout DevinError follows', async () => {
    const stub = await startStub(() => undefined);
    try {
      const error = await clientFor(stub.url, 50)
        .getSession('devin-1')
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(DevinError);
      expect(error).toMatchObject({ kind: 'timeout', status: null, retryable: true });
      expect((error as DevinError).timeout).toBe(true);
      expect(stub.requests).toHaveLength(fastRetry.maxAttempts);
    } finally {
      await stub.stop();
    }
  });

  it('when nothing listens, then a network DevinError after the retries', async () => {
    const stub = await startStub(() => undefined);
    await stub.stop();

    const error = await clientFor(stub.url)
      .getSession('devin-1')
      .catch((e: unknown) => e);

    expect(error).toMatchObject({
      kind: 'network',
      retryable: true,
      attempts: fastRetry.maxAttempts,
    });
    expect((error as DevinError).network).toBe(true);
    expect((error as DevinError).detail).toContain('ECONNREFUSED');
  });

  it('when the message endpoint answers 204, then the message counts as delivered', async () => {
    const stub = await startStub((_req, res) => res.writeHead(204).end());
    try {
      await expect(clientFor(stub.url).sendMessage('devin-1', 'hi')).resolves.toEqual({
        delivered: true,
      });
      expect(stub.requests[0]).toMatchObject({
        method: 'POST',
        url: '/v1/sessions/devin-1/message',
        authorization: `Bearer ${apiKey}`,
      });
    } finally {
      await stub.stop();
    }
  });

  it('when Devin sends unknown fields, nulls and an unseen status, then the session parses and keeps them', async () => {
    const stub = await startStub((_req, res) =>
      json(res, 200, {
        session_id: 'devin-1',
        status: 'hibernating',
        status_enum: 'deep_sleep',
        title: null,
        tags: null,
        created_at: '2026-01-01T00:00:00Z',
        updated_at: '2026-01-01T00:00:01Z',
        pull_request: null,
        structured_output: 'not an object',
        acus_consumed: 3.5,
        messages: [{ type: 'devin_message', event_id: 17, message: 'hi', timestamp: 't' }],
      }),
    );
    try {
      const session = await clientFor(stub.url).getSession('devin-1');

      expect(session).toMatchObject({
        status: 'hibernating',
        status_enum: 'deep_sleep',
        title: null,
        tags: [],
        structured_output: null,
        messages: [{ type: 'devin_message', event_id: '17', message: 'hi', timestamp: 't' }],
      });
      expect(session).not.toHaveProperty('acus_consumed');
    } finally {
      await stub.stop();
    }
  });

  it('when a 200 lacks what Devin documents, then an invalid-response DevinError names the field', async () => {
    const stub = await startStub((_req, res) => json(res, 200, { url: 'x' }));
    try {
      const error = await clientFor(stub.url)
        .createSession({ prompt: 'p' })
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ kind: 'invalid-response', status: 200, retryable: false });
      expect((error as DevinError).detail).toContain('session_id');
    } finally {
      await stub.stop();
    }
  });

  it('when an error body echoes the Authorization header, then the key is scrubbed from the error', async () => {
    const stub = await startStub((req, res) =>
      json(res, 400, { detail: `bad header ${req.headers.authorization}` }),
    );
    try {
      const { logger, text } = captureLogger();
      const client = new DevinClient({ apiUrl: stub.url, apiKey, retry: fastRetry, logger });

      const error = await client.getSession('devin-1').catch((e: unknown) => e);

      expect((error as DevinError).detail).toBe('bad header Bearer [redacted]');
      expect(`${String(error)} ${JSON.stringify(error)} ${text()}`).not.toContain(apiKey);
    } finally {
      await stub.stop();
    }
  });

  it('when a proxy answers 502 with HTML, then the detail is the text and the call is retried', async () => {
    const stub = await startStub((_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    });
    try {
      const error = await clientFor(stub.url)
        .getSession('devin-1')
        .catch((e: unknown) => e);

      expect(error).toMatchObject({ status: 502, detail: '<html>Bad Gateway</html>' });
      expect(stub.requests).toHaveLength(fastRetry.maxAttempts);
    } finally {
      await stub.stop();
    }
  });

  it('when the configuration has no key, then the client refuses to be built', () => {
    expect(() => new DevinClient({ apiUrl: 'http://127.0.0.1:1', apiKey: '' })).toThrow(
      'expected an API key',
    );
  });
});
