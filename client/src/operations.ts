import {
  type EndpointDef,
  brainEndpoints,
  gatewayEndpoints,
  paymentEndpoints,
  userEndpoints,
} from '@meetmatt/contracts';

/**
 * Every operation a client reaches through the gateway, by operationId: the same definitions the
 * services validate with and the gateway's /openapi.json is built from. `verify` answers only the
 * gateway's auth_request, so a client has no use for it.
 */
const { verify: _gatewayOnly, ...clientUserEndpoints } = userEndpoints;

export const operations = {
  ...gatewayEndpoints,
  ...clientUserEndpoints,
  ...paymentEndpoints,
  ...brainEndpoints,
} satisfies Record<string, EndpointDef>;

export type Operations = typeof operations;
export type OperationId = keyof Operations;
