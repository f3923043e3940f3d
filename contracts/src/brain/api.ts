import { type EndpointDef } from '../http';
import { buildOpenApiDocument } from '../openapi';

/** The brain service's HTTP endpoints. */
export const brainEndpoints = {} satisfies Record<string, EndpointDef>;

export function brainOpenApi(serverUrl?: string): Record<string, unknown> {
  return buildOpenApiDocument(
    { title: 'Meet Matt brain service', version: '0.1.0', ...(serverUrl ? { serverUrl } : {}) },
    Object.values<EndpointDef>(brainEndpoints),
  );
}
