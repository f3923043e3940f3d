import request from 'supertest';
import { z } from 'zod';
import { ProblemSchema, defineEndpoint, problems } from '@meetmatt/contracts';
import { Metrics, createHttpApp } from '@meetmatt/infra';
import { captureLogger } from '@meetmatt/infra/testing';
import { MAX_DEPTH, hazards, parseOrThrow } from '../../src/http/validation';

/**
 * The class of odd input closed in one place: whatever an endpoint's schema says, a NUL
 * character (which PostgreSQL refuses in text and jsonb) or a `__proto__` key anywhere in a
 * body, query or path is a 400 naming where it was, before any handler runs; so are a path whose
 * percent-encoding does not decode, and bodies that are not JSON.
 */

const record = defineEndpoint({
  operationId: 'record',
  method: 'post',
  path: '/records/:name',
  summary: 'stores what it is given, unknown fields included (as a webhook does)',
  tags: ['test'],
  auth: 'none',
  params: z.object({ name: z.string().min(1) }),
  query: z.object({ note: z.string().optional() }),
  body: z.looseObject({ title: z.string(), tags: z.array(z.string()).optional() }),
  bodyLimit: '2kb',
  responses: { 201: { description: 'stored' }, 400: problems[400] },
});

function buildApp() {
  const { logger, entries } = captureLogger();
  const handled: unknown[] = [];
  const app = createHttpApp({
    service: 'test-service',
    logger,
    metrics: new Metrics('test-service', { defaultMetrics: false }),
    readiness: [],
    routes: (routes) => {
      routes.add(record, async ({ body, params, query }) => {
        handled.push({ body, params, query });
        const copy: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(body ?? {})) copy[key] = value;
        return {
          status: 201,
          body: { inherited: (copy as { isAdmin?: unknown }).isAdmin ?? null },
        };
      });
    },
  });
  return { app, handled, entries };
}

function expectProblem(res: request.Response, status: number): z.infer<typeof ProblemSchema> {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = ProblemSchema.parse(JSON.parse(res.text));
  expect(problem.status).toBe(status);
  return problem;
}

describe('odd input, refused centrally', () => {
  test('when a body string holds a NUL anywhere, then 400 problem+json names the field and the handler never runs', async () => {
    const { app, handled } = buildApp();
    const res = await request(app)
      .post('/records/one')
      .send({ title: 'ok', tags: ['fine', 'bad\u0000tag'] });
    const problem = expectProblem(res, 400);
    expect(problem.errors).toEqual([
      { field: 'tags.1', in: 'body', message: expect.stringContaining('NUL') },
    ]);
    expect(handled).toEqual([]);
  });

  test('when an unknown field a loose schema would keep holds a NUL, then 400 names it too', async () => {
    const { app, handled } = buildApp();
    const res = await request(app)
      .post('/records/one')
      .send({ title: 'ok', extra: { deep: ['\u0000'] } });
    expect(expectProblem(res, 400).errors?.[0]?.field).toBe('extra.deep.0');
    expect(handled).toEqual([]);
  });

  test('when a key holds a NUL, then 400 names the key', async () => {
    const { app } = buildApp();
    const res = await request(app)
      .post('/records/one')
      .set('content-type', 'application/json')
      .send('{"title":"ok","k\\u0000ey":1}');
    expect(expectProblem(res, 400).errors?.[0]).toMatchObject({ field: 'k\u0000ey', in: 'body' });
  });

  test('when the query or the path holds a NUL, then 400 names the parameter', async () => {
    const { app, handled } = buildApp();
    const query = await request(app).post('/records/one?note=a%00b').send({ title: 'ok' });
    expect(expectProblem(query, 400).errors?.[0]).toMatchObject({ field: 'note', in: 'query' });
    const path = await request(app).post('/records/a%00b').send({ title: 'ok' });
    expect(expectProblem(path, 400).errors?.[0]).toMatchObject({ field: 'name', in: 'params' });
    expect(handled).toEqual([]);
  });

  test('when a body carries a __proto__ key, then 400 names it and nothing inherits from it', async () => {
    const { app, handled } = buildApp();
    const res = await request(app)
      .post('/records/one')
      .set('content-type', 'application/json')
      .send('{"title":"ok","__proto__":{"isAdmin":true}}');
    expect(expectProblem(res, 400).errors?.[0]).toMatchObject({ field: '__proto__', in: 'body' });
    expect(handled).toEqual([]);
    expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined();
  });

  test('when a body carries a constructor key, then it is data like any other and nothing is polluted', async () => {
    const { app } = buildApp();
    const res = await request(app)
      .post('/records/one')
      .send({ title: 'ok', constructor: { prototype: { isAdmin: true } } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ inherited: null });
    expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined();
  });

  test('when a body is nested deeper than any request we describe, then 400 names where, and quickly', async () => {
    const { app, handled } = buildApp();
    const res = await request(app)
      .post('/records/one')
      .set('content-type', 'application/json')
      .send(`{"title":"ok","extra":${'['.repeat(900)}${']'.repeat(900)}}`);
    expect(expectProblem(res, 400).errors?.[0]?.message).toContain('nested');
    expect(handled).toEqual([]);
  });

  test('when a body string holds a lone surrogate, then 400 names the field', async () => {
    const { app, handled } = buildApp();
    const res = await request(app)
      .post('/records/one')
      .set('content-type', 'application/json')
      .send('{"title":"\\udfff\\ud800"}');
    expect(expectProblem(res, 400).errors?.[0]).toMatchObject({ field: 'title', in: 'body' });
    expect(handled).toEqual([]);
  });

  test('when a path parameter is not valid percent-encoding, then 400 problem+json, not 500', async () => {
    const { app, entries } = buildApp();
    const res = await request(app).post('/records/%ZZ').send({ title: 'ok' });
    expect(expectProblem(res, 400).errors?.[0]).toMatchObject({ field: 'path', in: 'params' });
    expect(entries.filter((e) => e.message === 'unhandled error')).toEqual([]);
  });

  test.each([
    ['malformed JSON', 'application/json', '{"title":', 400],
    ['plain text', 'text/plain', 'title=ok', 415],
    ['form data', 'application/x-www-form-urlencoded', 'title=ok', 415],
    ['a charset JSON is never sent in', 'application/json; charset=latin1', '{"title":"ok"}', 415],
    [
      'a body over the limit',
      'application/json',
      JSON.stringify({ title: 'x'.repeat(5_000) }),
      413,
    ],
  ])(
    'when the body is %s (sent as %s), then a 4xx problem+json and no handler runs',
    async (_what, type, body, status) => {
      const { app, handled } = buildApp();
      const res = await request(app).post('/records/one').set('content-type', type).send(body);
      expectProblem(res, status);
      expect(handled).toEqual([]);
    },
  );

  test('when a gzip-encoded body does not inflate, then a 4xx problem+json', async () => {
    const { app } = buildApp();
    const res = await request(app)
      .post('/records/one')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      .send('{"title":"not gzip"}');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('hazards: the check every parsed part goes through', () => {
  test('when the input is nested twenty thousand deep, then it is refused at the depth limit, in one step per value', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20_000; i += 1) deep = [deep];
    const started = process.hrtime.bigint();
    const found = hazards(deep, 'body');
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(200);
    expect(found).toEqual([
      {
        field: Array(MAX_DEPTH).fill('0').join('.'),
        in: 'body',
        message: expect.stringContaining('nested'),
      },
    ]);
  });

  test('when a string or a key holds a lone surrogate (which jsonb refuses), then it is named', () => {
    const found = hazards({ coin: '\udfff\ud800', ok: '🤖', ['k\ud800']: 1 }, 'body');
    expect(found.sort((a, b) => a.field.localeCompare(b.field))).toEqual([
      { field: 'coin', in: 'body', message: expect.stringContaining('Unicode') },
      { field: 'k\ud800', in: 'body', message: expect.stringContaining('Unicode') },
    ]);
  });

  test('when there are many NULs, then at most ten are listed', () => {
    expect(
      hazards(
        Array.from({ length: 50 }, () => '\u0000'),
        'body',
      ),
    ).toHaveLength(10);
  });

  test('when the input is clean, then parseOrThrow hands back what the schema made of it', () => {
    expect(parseOrThrow(z.object({ a: z.coerce.number() }), { a: '5' }, 'query')).toEqual({ a: 5 });
  });
});
