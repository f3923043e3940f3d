import { type EndpointDef } from '../http';
import { buildOpenApiDocument } from '../openapi';

/** The user service's HTTP endpoints. */
export const userEndpoints = {} satisfies Record<string, EndpointDef>;

export function userOpenApi(serverUrl?: string): Record<string, unknown> {
  return buildOpenApiDocument(
    { title: 'Meet Matt user service', version: '0.1.0', ...(serverUrl ? { serverUrl } : {}) },
    Object.values<EndpointDef>(userEndpoints),
  );
}
