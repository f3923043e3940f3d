/**
 * What a call of an endpoint takes and gives, read off its definition in the contracts: the
 * definitions keep their literal types (`defineEndpoint` is `const`), so the path parameters,
 * query, body and every success answer's schema are known to the compiler here.
 */
import { type z } from 'zod';

/** The statuses a call resolves with; every other status is thrown as a ProblemError. */
export type SuccessStatus = 200 | 201 | 202 | 203 | 204;

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the identity of &
type Nothing = {};

type Part<Name extends string, D> = D extends { [K in Name]: infer S extends z.ZodType }
  ? object extends z.input<S>
    ? { [K in Name]?: z.input<S> }
    : { [K in Name]: z.input<S> }
  : Nothing;

/** `If-Match` where the endpoint reads it: required where its absence is a 428. */
type IfMatchPart<D> = D extends { requiredHeaders: readonly (infer H)[] }
  ? 'If-Match' extends H
    ? { ifMatch: string }
    : { ifMatch?: string }
  : D extends { headers: { 'If-Match': string } }
    ? { ifMatch?: string }
    : Nothing;

/** The first argument of a call: `params`, `query`, `body` and `ifMatch`, as the endpoint takes them. */
export type Input<D> = Part<'params', D> & Part<'query', D> & Part<'body', D> & IfMatchPart<D>;

/** What every answer tells besides its body. */
export interface ReplyMeta {
  headers: Headers;
  /** The `ETag` of the answer (a revision), to send back as `ifMatch`. */
  etag: string | undefined;
  /** The `X-Request-Id` of the answer, for `meetmatt trace`. */
  requestId: string | undefined;
  /** `METHOD /path` as sent. */
  request: string;
  /** How many times the request was sent (more than 1 after a retry). */
  attempts: number;
}

type Responses<D> = D extends { responses: infer R } ? R : never;

/** JSON with a schema: its parsed type; another media type: the unread Response; none: undefined. */
type BodyOf<R> = R extends { schema: infer S extends z.ZodType }
  ? z.output<S>
  : R extends { contentType: string }
    ? Response
    : undefined;

/** A success answer of the endpoint: one member per success status it documents. */
export type Reply<D> = {
  [K in keyof Responses<D> & SuccessStatus]: {
    status: K;
    body: BodyOf<Responses<D>[K]>;
  } & ReplyMeta;
}[keyof Responses<D> & SuccessStatus];

/** A success answer left unread (a PDF, a stream): the Response itself. */
export type RawReply = { status: number; response: Response } & ReplyMeta;

/** The arguments of a call: the input may be left out when the endpoint needs nothing. */
export type Args<D, O> =
  object extends Input<D> ? [input?: Input<D>, options?: O] : [input: Input<D>, options?: O];
