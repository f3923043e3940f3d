import { z } from 'zod';
import {
  type EndpointDef,
  ProblemSchema,
  type ResponseDef,
  problems,
  systemEndpoints,
} from './http';

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  serverUrl?: string;
  serverDescription?: string;
}

/**
 * Who answers: a service on its own port, or the gateway in front of the three. The gateway adds
 * what nginx itself answers (401 before the service is asked, 429 from its rate limits, 413 past
 * its body limit, 502/504 when a service does not answer) and takes API keys, which it swaps for
 * an access token (so the services themselves see only bearer tokens).
 */
export type OpenApiTarget = 'service' | 'gateway';

type JsonSchema = Record<string, unknown>;

/**
 * Operations the gateway serves without a rate limit (infra/gateway/locations.conf): the plan
 * list and the signing keys are static answers, /healthz and /openapi.json the gateway's own.
 */
const GATEWAY_UNLIMITED = new Set(['listPlans', 'jwks', 'healthz', 'gatewayOpenApi']);

/**
 * The responses an endpoint really gives: what it declares, plus what the machinery around every
 * handler answers (infra/src/http: 400 for a part that fails its schema, 401/403 for a credential,
 * 413/415 for a body, 503 past the time budget or when a dependency is down) and, at the gateway,
 * what nginx answers itself. A declared response wins over a derived one with the same status.
 */
export function responsesOf(
  endpoint: EndpointDef,
  target: OpenApiTarget,
): Record<number, ResponseDef> {
  const derived: Record<number, ResponseDef> = {};
  const authenticated = endpoint.auth === 'user' || endpoint.auth === 'admin';
  if (endpoint.params || endpoint.query || endpoint.body) derived[400] = problems[400];
  if (authenticated || endpoint.auth === 'signature') derived[401] = problems[401];
  if (endpoint.auth === 'admin') derived[403] = { ...problems[403], description: 'Operators only' };
  if (endpoint.apiKeys === false && target === 'gateway')
    derived[403] = { ...problems[403], description: 'An API key is refused here: sign in' };
  if (endpoint.body) {
    derived[413] = problems[413];
    derived[415] = problems[415];
  }
  if ((endpoint.requiredHeaders ?? []).includes('If-Match')) derived[428] = problems[428];
  // The gateway answers its /healthz itself; everything else reaches a service's time budget.
  const nginxOnly = target === 'gateway' && endpoint.operationId === 'healthz';
  if (!nginxOnly) derived[503] = problems[503];
  if (target === 'gateway' && !nginxOnly) {
    if (!GATEWAY_UNLIMITED.has(endpoint.operationId)) derived[429] = problems[429];
    derived[502] = {
      ...problems[502],
      description: 'The service behind this route is not answering (the gateway’s answer)',
    };
    derived[504] = {
      description: 'The service behind this route took too long (the gateway’s answer)',
      schema: ProblemSchema,
      contentType: 'application/problem+json',
    };
  }
  return { ...derived, ...endpoint.responses };
}

/**
 * Builds an OpenAPI 3.1 document from endpoint definitions. Schemas carrying `.meta({ id })`
 * become shared components; everything else is inlined. zod emits JSON Schema 2020-12, which
 * is what OpenAPI 3.1 uses.
 */
export function buildOpenApiDocument(
  info: OpenApiInfo,
  endpoints: EndpointDef[],
  target: OpenApiTarget = 'service',
): Record<string, unknown> {
  const all =
    target === 'service'
      ? ([...Object.values(systemEndpoints), ...endpoints] as EndpointDef[])
      : endpoints;
  const paths: Record<string, Record<string, unknown>> = {};
  const components: Record<string, JsonSchema> = {};
  const schemes = new Set<string>();

  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const json = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'any',
    }) as JsonSchema;
    delete json.$schema;
    return liftDefinitions(json, components);
  };

  for (const endpoint of all) {
    const path = endpoint.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [location, schema] of [
      ['path', endpoint.params],
      ['query', endpoint.query],
    ] as const) {
      if (!schema) continue;
      const json = toSchema(schema, 'input');
      const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((json.required as string[] | undefined) ?? []);
      for (const [name, property] of Object.entries(properties)) {
        parameters.push({
          name,
          in: location,
          required: location === 'path' || required.has(name),
          description: property.description,
          schema: property,
        });
      }
    }
    for (const [name, description] of Object.entries(endpoint.headers ?? {})) {
      parameters.push({
        name,
        in: 'header',
        required: (endpoint.requiredHeaders ?? []).includes(name),
        description,
        schema: { type: 'string' },
      });
    }
    const responses: Record<string, unknown> = {};
    const all = Object.entries(responsesOf(endpoint, target)).sort(([a], [b]) =>
      a.localeCompare(b),
    );
    for (const [status, response] of all) {
      responses[status] = {
        description: response.description,
        ...(response.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(response.headers).map(([h, d]) => [
                  h,
                  { description: d, schema: { type: 'string' } },
                ]),
              ),
            }
          : {}),
        ...(response.schema || response.contentType
          ? {
              content: {
                [response.contentType ?? 'application/json']: response.schema
                  ? { schema: toSchema(response.schema, 'output') }
                  : {},
                ...Object.fromEntries(
                  Object.entries(response.alternatives ?? {}).map(([type, description]) => [
                    type,
                    { schema: { description } },
                  ]),
                ),
              },
            }
          : {}),
      };
    }
    const security = securityOf(endpoint, target);
    for (const requirement of security)
      for (const name of Object.keys(requirement)) schemes.add(name);
    paths[path] ??= {};
    paths[path][endpoint.method] = {
      operationId: endpoint.operationId,
      summary: endpoint.summary,
      ...(endpoint.description ? { description: endpoint.description } : {}),
      tags: endpoint.tags,
      security,
      ...(parameters.length ? { parameters } : {}),
      ...(endpoint.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: toSchema(endpoint.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
    },
    ...(info.serverUrl
      ? {
          servers: [
            {
              url: info.serverUrl,
              ...(info.serverDescription ? { description: info.serverDescription } : {}),
            },
          ],
        }
      : {}),
    paths,
    components: {
      schemas: components,
      securitySchemes: Object.fromEntries(
        Object.entries(SECURITY_SCHEMES).filter(([name]) => schemes.has(name)),
      ),
    },
  };
}

const SECURITY_SCHEMES: Record<string, JsonSchema> = {
  bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
  apiKey: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Api-Key',
    description:
      'mm_… from POST /users/{id}/api-keys (also accepted as Authorization: Bearer mm_…); the gateway swaps it for an access token',
  },
  nowpaymentsSignature: { type: 'apiKey', in: 'header', name: 'x-nowpayments-sig' },
};

/**
 * A service checks bearer tokens only; the gateway also takes an API key, except where the
 * service refuses one (`apiKeys: false`).
 */
function securityOf(endpoint: EndpointDef, target: OpenApiTarget): Record<string, string[]>[] {
  if (endpoint.auth === 'signature') return [{ nowpaymentsSignature: [] }];
  if (endpoint.auth !== 'user' && endpoint.auth !== 'admin') return [];
  if (target === 'gateway' && endpoint.apiKeys !== false)
    return [{ bearerAuth: [] }, { apiKey: [] }];
  return [{ bearerAuth: [] }];
}

/** Moves `$defs` into the document's components and points references at them. */
function liftDefinitions(schema: JsonSchema, components: Record<string, JsonSchema>): JsonSchema {
  const defs = (schema.$defs ?? {}) as Record<string, JsonSchema>;
  delete schema.$defs;
  for (const [name, def] of Object.entries(defs)) components[name] = rewriteRefs(def) as JsonSchema;
  const id = schema.id as string | undefined;
  const rewritten = rewriteRefs(schema) as JsonSchema;
  if (id) {
    delete rewritten.id;
    components[id] = rewritten;
    return { $ref: `#/components/schemas/${id}` };
  }
  return rewritten;
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      out[key] =
        key === '$ref' && typeof v === 'string'
          ? v.replace('#/$defs/', '#/components/schemas/')
          : rewriteRefs(v);
    }
    return out;
  }
  return value;
}
