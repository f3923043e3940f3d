import { type EndpointDef } from '../http';
import { buildOpenApiDocument } from '../openapi';

/** The payment service's HTTP endpoints. */
export const paymentEndpoints = {} satisfies Record<string, EndpointDef>;

export function paymentOpenApi(serverUrl?: string): Record<string, unknown> {
  return buildOpenApiDocument(
    { title: 'Meet Matt payment service', version: '0.1.0', ...(serverUrl ? { serverUrl } : {}) },
    Object.values<EndpointDef>(paymentEndpoints),
  );
}
