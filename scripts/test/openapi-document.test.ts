import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  type EndpointDef,
  brainEndpoints,
  brainOpenApi,
  gatewayOpenApi,
  paymentEndpoints,
  paymentOpenApi,
  userEndpoints,
  userOpenApi,
} from '@meetmatt/contracts';

type Operation = {
  operationId: string;
  security: Record<string, string[]>[];
  parameters?: { name: string; in: string; required: boolean }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, unknown> }>;
};
type Doc = {
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: object };
};

/**
 * @seriousme/openapi-schema-validator is ESM only (and reads its schemas through
 * import.meta.url), so it runs in its own node process: the document in on stdin, the verdict out.
 */
function validate(document: object): { valid: boolean; errors?: unknown } {
  const program = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(input));
    process.stdout.write(JSON.stringify({ ...result, version: validator.version }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', program], {
    cwd: path.join(__dirname, '..'),
    input: JSON.stringify(document),
    encoding: 'utf8',
  });
  return JSON.parse(out) as { valid: boolean; errors?: unknown };
}

const gateway = gatewayOpenApi() as unknown as Doc;
const operations = Object.values(gateway.paths).flatMap((methods) => Object.values(methods));
const endpoints = new Map(
  [
    ...Object.values<EndpointDef>(userEndpoints),
    ...Object.values<EndpointDef>(paymentEndpoints),
    ...Object.values<EndpointDef>(brainEndpoints),
  ].map((e) => [e.operationId, e]),
);
const op = (id: string) => operations.find((o) => o.operationId === id)!;
const statuses = (o: Operation) => Object.keys(o.responses);

describe('the OpenAPI documents', () => {
  test.each([
    ['the gateway', gateway],
    ['payment-service', paymentOpenApi()],
    ['user-service', userOpenApi()],
    ['brain-service', brainOpenApi()],
  ])(
    'when %s’s document is given to an OpenAPI validator, then it is valid OpenAPI 3.1',
    (_name, document) => {
      expect(validate(document)).toEqual(expect.objectContaining({ valid: true, version: '3.1' }));
    },
  );

  test('when the gateway’s document is built, then it names the gateway as its server and holds every operation the gateway routes (not /auth/verify, not the services’ own system routes)', () => {
    expect(gateway.servers).toEqual([expect.objectContaining({ url: '/' })]);
    const ids = operations.map((o) => o.operationId).sort();
    expect(ids).toEqual(
      [
        ...[...endpoints.keys()].filter((id) => id !== 'verify'),
        'healthz',
        'gatewayOpenApi',
      ].sort(),
    );
  });

  test('when an operation needs credentials, then 401 is among its answers, and 403 when operators only', () => {
    for (const [id, endpoint] of endpoints) {
      if (id === 'verify') continue;
      if (endpoint.auth === 'user' || endpoint.auth === 'admin')
        expect([id, statuses(op(id))]).toEqual([id, expect.arrayContaining(['401'])]);
      if (endpoint.auth === 'admin')
        expect([id, statuses(op(id))]).toEqual([id, expect.arrayContaining(['403'])]);
    }
    expect(statuses(op('requestRefund'))).toEqual(expect.arrayContaining(['401', '403']));
    expect(statuses(op('completeRefund'))).toEqual(expect.arrayContaining(['401', '403']));
  });

  test('when an operation takes parameters or a body, then 400 is among its answers; with a body also 413 and 415', () => {
    for (const o of operations) {
      if (o.parameters?.some((p) => p.in !== 'header') || o.requestBody)
        expect([o.operationId, statuses(o)]).toEqual([
          o.operationId,
          expect.arrayContaining(['400']),
        ]);
      if (o.requestBody)
        expect([o.operationId, statuses(o)]).toEqual([
          o.operationId,
          expect.arrayContaining(['413', '415']),
        ]);
    }
  });

  test('when the gateway rate-limits a route, then 429 is among its answers; every proxied route may answer 502, 503 and 504', () => {
    const unlimited = ['listPlans', 'jwks', 'healthz', 'gatewayOpenApi'];
    for (const o of operations) {
      if (!unlimited.includes(o.operationId))
        expect([o.operationId, statuses(o)]).toEqual([
          o.operationId,
          expect.arrayContaining(['429']),
        ]);
      if (o.operationId !== 'healthz')
        expect([o.operationId, statuses(o)]).toEqual([
          o.operationId,
          expect.arrayContaining(['502', '503', '504']),
        ]);
    }
    expect(statuses(op('nowpaymentsWebhook'))).toEqual(expect.arrayContaining(['503']));
  });

  test('when If-Match is required (PUT /users/{id}), then the header is documented required and 428 is an answer', () => {
    const update = op('updateUser');
    expect(update.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'If-Match', required: true })]),
    );
    expect(statuses(update)).toEqual(expect.arrayContaining(['412', '428']));
  });

  test('when a problem carries extension members, then the Problem schema allows them (RFC 9457)', () => {
    expect(gateway.components.schemas.Problem!.additionalProperties).not.toBe(false);
  });

  test('when an operation refuses API keys, then the gateway offers only bearer tokens for it; the services themselves advertise no apiKey scheme', () => {
    for (const o of operations) {
      const endpoint = endpoints.get(o.operationId);
      if (!endpoint || (endpoint.auth !== 'user' && endpoint.auth !== 'admin')) continue;
      const schemes = o.security.flatMap((s) => Object.keys(s));
      expect([o.operationId, schemes.includes('apiKey')]).toEqual([
        o.operationId,
        endpoint.apiKeys !== false,
      ]);
    }
    expect(schemesOf(op('createApiKey'))).toEqual(['bearerAuth']);
    for (const document of [paymentOpenApi(), userOpenApi(), brainOpenApi()] as unknown as Doc[]) {
      expect(document.components.securitySchemes).not.toHaveProperty('apiKey');
      for (const methods of Object.values(document.paths))
        for (const o of Object.values(methods)) expect(schemesOf(o)).not.toContain('apiKey');
    }
  });
});

function schemesOf(o: Operation): string[] {
  return o.security.flatMap((s) => Object.keys(s));
}
