import { z } from 'zod';
import { brainEndpoints } from './brain/api';
import { type EndpointDef, HealthSchema, defineEndpoint } from './http';
import { buildOpenApiDocument } from './openapi';
import { paymentEndpoints } from './payment/api';
import { userEndpoints } from './user/api';

/** Where user-service serves the gateway's document; the gateway's /openapi.json proxies to it. */
export const GATEWAY_OPENAPI_SERVICE_PATH = '/openapi/gateway.json';

/** What the gateway answers itself, or routes somewhere other than the service's own path. */
export const gatewayEndpoints = {
  healthz: defineEndpoint({
    operationId: 'healthz',
    method: 'get',
    path: '/healthz',
    summary: 'The gateway is up (answered by nginx; the services’ readiness is not exposed)',
    tags: ['system'],
    auth: 'none',
    responses: { 200: { description: 'Alive', schema: HealthSchema } },
  }),
  gatewayOpenApi: defineEndpoint({
    operationId: 'gatewayOpenApi',
    method: 'get',
    path: '/openapi.json',
    summary: 'This document: every operation the gateway serves, with every answer it gives',
    tags: ['system'],
    auth: 'none',
    responses: {
      200: {
        description: 'OpenAPI 3.1',
        schema: z.record(z.string(), z.unknown()).meta({ id: 'OpenApiDocument' }),
      },
    },
  }),
} satisfies Record<string, EndpointDef>;

/**
 * /auth/verify answers the gateway's auth_request only (the gateway answers 404 to anyone
 * else), and each service's /readyz, /metrics and /openapi.json stay on the service's port.
 */
const notRouted = new Set(['verify']);

let cached: Record<string, unknown> | undefined;

/**
 * One document for the whole API as a client sees it through the gateway: the three services'
 * endpoints, built by the same generator from the same definitions as each service's own
 * /openapi.json, with the gateway as the server (a relative URL: the host this document was
 * fetched from) and the answers nginx gives itself.
 */
export function gatewayOpenApi(): Record<string, unknown> {
  cached ??= buildOpenApiDocument(
    {
      title: 'Meet Matt API',
      version: '0.1.0',
      description:
        'Everything a client reaches through the gateway: accounts and notifications (user service), payments and invoices (payment service), agents (brain service). Errors are application/problem+json (RFC 9457).',
      serverUrl: '/',
      serverDescription: 'The gateway this document was fetched from',
    },
    [
      ...Object.values<EndpointDef>(gatewayEndpoints),
      ...Object.values<EndpointDef>(userEndpoints).filter((e) => !notRouted.has(e.operationId)),
      ...Object.values<EndpointDef>(paymentEndpoints),
      ...Object.values<EndpointDef>(brainEndpoints),
    ],
    'gateway',
  );
  return cached;
}
