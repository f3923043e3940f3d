import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { OutboundError, outboundRequest } from '@meetmatt/infra';

describe('outbound requests to a provider', () => {
  let server: http.Server;
  let base: string;
  let connections = 0;
  const requests: { method?: string; url?: string; auth?: string; body: string }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
        if (req.url === '/stall-body') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"partial":');
          return; // never ends
        }
        if (req.url === '/big') {
          res.writeHead(200);
          res.end('x'.repeat(5_000));
          return;
        }
        res.writeHead(req.url === '/busy' ? 429 : 201, {
          'content-type': 'application/json',
          'retry-after': '7',
        });
        res.end(JSON.stringify({ echoed: body }));
      });
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('when the provider answers, then status, headers and body come back, over one kept-alive connection', async () => {
    const before = connections;
    const first = await outboundRequest({
      method: 'POST',
      url: `${base}/v1/sessions`,
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'é' }),
      timeoutMs: 2_000,
    });
    expect(first.status).toBe(201);
    expect(first.headers['retry-after']).toBe('7');
    expect(JSON.parse(first.body)).toEqual({ echoed: '{"prompt":"é"}' });
    const second = await outboundRequest({ method: 'GET', url: `${base}/busy`, timeoutMs: 2_000 });
    expect(second.status).toBe(429);
    expect(connections - before).toBe(1);
    expect(requests.slice(-2).map((r) => [r.method, r.url, r.auth])).toEqual([
      ['POST', '/v1/sessions', 'Bearer k'],
      ['GET', '/busy', undefined],
    ]);
  });

  test('when the answer stalls after its headers, then the deadline covers the body too', async () => {
    const started = Date.now();
    const error = await outboundRequest({
      method: 'GET',
      url: `${base}/stall-body`,
      timeoutMs: 200,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundError);
    expect(error).toMatchObject({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('when the caller cancels, then the request ends as aborted, at once', async () => {
    const controller = new AbortController();
    const pending = outboundRequest({
      method: 'GET',
      url: `${base}/stall-body`,
      timeoutMs: 10_000,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ kind: 'aborted' });
    const already = new AbortController();
    already.abort();
    await expect(
      outboundRequest({
        method: 'GET',
        url: `${base}/x`,
        timeoutMs: 1_000,
        signal: already.signal,
      }),
    ).rejects.toMatchObject({ kind: 'aborted' });
  });

  test('when nobody listens, or the answer is too long, then it is a network failure with its reason', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(
      outboundRequest({ method: 'GET', url: `http://127.0.0.1:${port}/`, timeoutMs: 2_000 }),
    ).rejects.toMatchObject({ kind: 'network', code: 'ECONNREFUSED' });
    await expect(
      outboundRequest({ method: 'GET', url: `${base}/big`, timeoutMs: 2_000, maxBodyBytes: 1_000 }),
    ).rejects.toMatchObject({ kind: 'network', message: 'the answer is longer than 1000 bytes' });
    await expect(
      outboundRequest({ method: 'GET', url: 'ftp://127.0.0.1/', timeoutMs: 2_000 }),
    ).rejects.toMatchObject({ kind: 'network' });
  });
});
