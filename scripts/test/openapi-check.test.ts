import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { gatewayOpenApi } from '@meetmatt/contracts';
import { openApiChecker } from './e2e/openapi-check';

/** Canned answers by `METHOD path`: status, content type, body. */
const answers: Record<string, [number, string, string]> = {
  'GET /payments/plans': [200, 'application/json', JSON.stringify({ plans: [] })],
  'GET /agents': [
    429,
    'application/problem+json',
    JSON.stringify({ type: 't', title: 'Too Many Requests', status: 429, retryIn: 1 }),
  ],
  'GET /agents/abc': [418, 'application/json', '{}'],
  'GET /payments/currencies': [200, 'application/json', JSON.stringify({ currencies: 'btc' })],
  'GET /nowhere': [404, 'application/problem+json', '{}'],
};

describe('the OpenAPI response checker', () => {
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const [status, type, body] = answers[`${req.method} ${req.url}`]!;
      res.writeHead(status, { 'content-type': type }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  test('when an answer is described (a problem with an extension member too), then it passes and is counted by operation', async () => {
    const checker = openApiChecker(gatewayOpenApi());
    expect((await checker.fetch(`${base}/payments/plans`)).status).toBe(200);
    expect((await checker.fetch(`${base}/agents`)).status).toBe(429);
    expect([...checker.checked.keys()]).toEqual(['GET /payments/plans 200', 'GET /agents 429']);
    expect(checker.mismatches).toEqual([]);
  });

  test('when a status is not described, then the call fails naming the method, the path and the status', async () => {
    const checker = openApiChecker(gatewayOpenApi());
    await expect(checker.fetch(`${base}/agents/abc`)).rejects.toThrow(
      'OpenAPI: GET /agents/abc 418: /agents/{id} describes no 418 response',
    );
    await expect(checker.fetch(`${base}/nowhere`)).rejects.toThrow(
      'GET /nowhere 404: no operation',
    );
    expect(checker.mismatches.map((m) => [m.method, m.path, m.status])).toEqual([
      ['GET', '/agents/abc', 418],
      ['GET', '/nowhere', 404],
    ]);
  });

  test('when a body does not match its response schema, then the call fails saying where', async () => {
    const checker = openApiChecker(gatewayOpenApi());
    await expect(checker.fetch(`${base}/payments/currencies`)).rejects.toThrow(
      /GET \/payments\/currencies 200: 200 body does not match the schema: .*\/currencies must be array/,
    );
  });
});
