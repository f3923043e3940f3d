import request from 'supertest';
import { z } from 'zod';
import { defineEndpoint, problems } from '@meetmatt/contracts';
import { HttpError, Metrics, createHttpApp } from '@meetmatt/infra';
import { captureLogger } from '@meetmatt/infra/testing';

const createThing = defineEndpoint({
  operationId: 'createThing',
  method: 'post',
  path: '/things/:kind',
  summary: 'test endpoint',
  tags: ['test'],
  auth: 'none',
  params: z.object({ kind: z.enum(['red', 'blue']) }),
  query: z.object({ dryRun: z.enum(['true', 'false']).optional() }),
  body: z.object({
    name: z.string().min(2),
    size: z.number().int().positive(),
    tags: z.array(z.string()).max(2),
  }),
  bodyLimit: '1kb',
  responses: { 201: { description: 'made' }, 400: problems[400] },
});

const explode = defineEndpoint({
  operationId: 'explode',
  method: 'get',
  path: '/explode',
  summary: 'throws',
  tags: ['test'],
  auth: 'none',
  responses: {},
});

const refuse = defineEndpoint({
  operationId: 'refuse',
  method: 'get',
  path: '/refuse',
  summary: 'answers 409',
  tags: ['test'],
  auth: 'none',
  responses: {},
});

const signed = defineEndpoint({
  operationId: 'signed',
  method: 'post',
  path: '/signed',
  summary: 'verified before validation',
  tags: ['test'],
  auth: 'signature',
  body: z.object({ amount: z.number() }),
  responses: {},
});

function buildApp(readyError?: () => string | undefined) {
  const { logger, entries } = captureLogger();
  const metrics = new Metrics('test-service', { defaultMetrics: false });
  const app = createHttpApp({
    service: 'test-service',
    logger,
    metrics,
    readiness: [
      {
        name: 'database',
        check: async () => {
          const error = readyError?.();
          if (error) throw new Error(error);
        },
      },
    ],
    routes: (routes) => {
      routes.add(createThing, async ({ params, body, query }) => ({
        status: 201,
        body: { kind: params.kind, name: body?.name, dryRun: query.dryRun === 'true' },
      }));
      routes.add(explode, async () => {
        throw new Error('secret internal detail at /srv/app.ts:42');
      });
      routes.add(refuse, async () => {
        throw HttpError.conflict('already there');
      });
      routes.add(
        signed,
        async ({ body, res }) => ({
          status: 200,
          body: { amount: body.amount, verified: res.locals.verified as boolean },
        }),
        {
          verify: (req, res) => {
            if (req.get('x-signature') !== 'good') throw HttpError.unauthorized('bad signature');
            res.locals.verified = true;
          },
        },
      );
    },
  });
  return { app, entries, metrics };
}

describe('http kit', () => {
  test('when the body is valid, then the handler answers with parsed params, query and body', async () => {
    const { app } = buildApp();
    const res = await request(app)
      .post('/things/red?dryRun=true')
      .send({ name: 'ab', size: 3, tags: [] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ kind: 'red', name: 'ab', dryRun: true });
  });

  test('when fields are invalid, then a 400 problem+json names every bad field and location', async () => {
    const { app } = buildApp();
    const res = await request(app)
      .post('/things/green')
      .send({ name: 'a', size: -1, tags: ['x', 'y', 'z'] });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.type).toContain('validation-error');
    expect(res.body.status).toBe(400);
    // params are validated first; the kind is named
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'kind', in: 'params' })]);

    const bodyRes = await request(app)
      .post('/things/red')
      .send({ name: 'a', size: -1, tags: ['x', 'y', 'z'] });
    expect(bodyRes.status).toBe(400);
    const fields = (bodyRes.body.errors as { field: string; in: string }[]).map(
      (e) => `${e.in}:${e.field}`,
    );
    expect(fields.sort()).toEqual(['body:name', 'body:size', 'body:tags']);
    expect(bodyRes.body.detail).toContain('name');
  });

  test('when a required field is missing, then the 400 names it', async () => {
    const { app } = buildApp();
    const res = await request(app).post('/things/red').send({ size: 2, tags: [] });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'name', in: 'body' })]);
  });

  test('when the body is not JSON, then 400 malformed-json, and 415 for another media type', async () => {
    const { app } = buildApp();
    const broken = await request(app)
      .post('/things/red')
      .set('content-type', 'application/json')
      .send('{"name": ');
    expect(broken.status).toBe(400);
    expect(broken.body.type).toContain('malformed-json');
    const text = await request(app)
      .post('/things/red')
      .set('content-type', 'text/plain')
      .send('name=ab');
    expect(text.status).toBe(415);
    expect(text.headers['content-type']).toMatch(/problem\+json/);
  });

  test('when the body is over the endpoint limit, then 413 problem+json', async () => {
    const { app } = buildApp();
    const res = await request(app)
      .post('/things/red')
      .send({ name: 'x'.repeat(2_000), size: 1, tags: [] });
    expect(res.status).toBe(413);
    expect(res.body.title).toBe('Content Too Large');
  });

  test('when a route verifies its requests, then an unverified one gets 401 whatever its body, and a verified one is validated', async () => {
    const { app } = buildApp();
    const unsigned = [
      await request(app).post('/signed').send({ amount: 'not a number' }),
      await request(app).post('/signed').set('Content-Type', 'text/plain').send('hello'),
      await request(app).post('/signed').set('x-signature', 'bad').send({ amount: 1 }),
    ];
    for (const res of unsigned) {
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const invalid = await request(app)
      .post('/signed')
      .set('x-signature', 'good')
      .send({ amount: 'x' });
    expect(invalid.status).toBe(400);
    expect(JSON.stringify(invalid.body)).toContain('amount');
    const ok = await request(app).post('/signed').set('x-signature', 'good').send({ amount: 5 });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ amount: 5, verified: true });
  });

  test('when the route is unknown, then a JSON 404 problem', async () => {
    const { app } = buildApp();
    const res = await request(app).get('/nowhere');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 404, instance: '/nowhere' });
  });

  test('when a handler throws, then a 500 without the stack or message reaches the client, and the log has it', async () => {
    const { app, entries } = buildApp();
    const res = await request(app).get('/explode').set('x-request-id', 'req-123');
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toMatch(/secret internal detail|app\.ts|at /);
    expect(res.body.requestId).toBe('req-123');
    const logged = entries.find((e) => e.message === 'unhandled error');
    expect(logged).toMatchObject({ correlationId: 'req-123' });
    expect(JSON.stringify(logged)).toContain('secret internal detail');
  });

  test('when a handler raises an HttpError, then its status and detail are answered', async () => {
    const { app } = buildApp();
    const res = await request(app).get('/refuse');
    expect(res.status).toBe(409);
    expect(res.body.detail).toBe('already there');
  });

  test('when X-Request-Id is sent, then it is echoed; when absent or unsafe, then one is generated', async () => {
    const { app, entries } = buildApp();
    const given = await request(app).get('/healthz').set('x-request-id', 'abc-1');
    expect(given.headers['x-request-id']).toBe('abc-1');
    const generated = await request(app).get('/things-nope');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await request(app).get('/nope').set('x-request-id', 'bad id with spaces');
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const line = entries.find(
      (e) => e.message === 'request' && e.correlationId === generated.headers['x-request-id'],
    );
    expect(line).toMatchObject({ method: 'GET', status: 404 });
  });

  test('when requests are served, then /metrics counts them by route and status', async () => {
    const { app } = buildApp();
    await request(app).post('/things/red').send({ name: 'ab', size: 1, tags: [] });
    await request(app).get('/nope');
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(
      /http_requests_total\{method="POST",route="\/things\/:kind",status="201",service="test-service"\} 1/,
    );
    expect(res.text).toMatch(/http_request_duration_seconds_bucket/);
  });

  test('when a readiness check fails, then /readyz answers 503 naming it, and 200 once it passes', async () => {
    let error: string | undefined = 'connection refused';
    const { app } = buildApp(() => error);
    const down = await request(app).get('/readyz');
    expect(down.status).toBe(503);
    expect(down.body.reason).toBe('database: connection refused');
    expect(down.body.checks.database).toEqual({ ok: false, error: 'connection refused' });
    error = undefined;
    const up = await request(app).get('/readyz');
    expect(up.status).toBe(200);
    expect(up.body.status).toBe('ready');
  });
});
