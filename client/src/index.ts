/**
 * @meetmatt/client: the Meet Matt API for the web app, derived from the endpoint definitions of
 * @meetmatt/contracts (one typed function per operationId). Runs wherever `fetch` does.
 */
export {
  type Api,
  type CallOptions,
  type Client,
  type ClientOptions,
  type RawApi,
  type RawCallOptions,
  type RetryEvent,
  type RetryPolicy,
  type Tokens,
  createClient,
} from './create-client';
export { type Input, type RawReply, type Reply, type ReplyMeta } from './endpoint-types';
export {
  type FieldError,
  NetworkError,
  ProblemError,
  TimeoutError,
  UnexpectedResponseError,
} from './errors';
export { type OperationId, type Operations, operations } from './operations';
