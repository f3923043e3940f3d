import fc from 'fast-check';
import { ProviderPaymentStatusSchema } from '@meetmatt/contracts';
import {
  type Components,
  type JsonSchema,
  hostileNumbers,
  hostileStrings,
  hostileVariant,
  nested,
  pathsOf,
  protoObject,
  replaceAt,
  validValue,
} from './arbitraries';
import { type ServiceKey } from './fuzz-system';

/** One operation of a service's OpenAPI document. */
export interface Operation {
  service: ServiceKey;
  method: string;
  /** OpenAPI path, `{id}` style. */
  path: string;
  operationId: string;
  secured: boolean;
  parameters: { name: string; in: 'path' | 'query' | 'header'; schema: JsonSchema }[];
  body?: JsonSchema;
  components: Components;
}

export interface FuzzRequest {
  method: string;
  /** Path and query, encoded as sent. */
  target: string;
  headers: Record<string, string>;
  body?: string;
  /** Why this request: valid, or which part is hostile. */
  kind: string;
}

/** Real ids and credentials of the fixture, so valid requests reach past the 404s. */
export interface Fixture {
  userId: string;
  otherUserId: string;
  paymentId: string;
  providerPaymentId: string;
  agentId: string;
  apiKeyId: string;
  apiKey: string;
  notificationId: string;
  sessionIds: string[];
  plans: string[];
  emails: string[];
  password: string;
  /** Access token of the main user (never logged out by the suite). */
  token: string;
  /** An operator's access token (granted admin as `meetmatt users grant-admin` does). */
  adminToken: string;
  /** Tokens of the second user, whose sessions the suite may end. */
  spareTokens: string[];
  spareRefreshTokens: string[];
  otherToken: string;
  cursors: string[];
  gatewaySecret: string;
  /** An address nobody has registered yet. */
  freshEmail(): string;
  signIpn(body: string): string;
}

export function operationsOf(service: ServiceKey, doc: Record<string, unknown>): Operation[] {
  const components = ((doc.components as Record<string, unknown>).schemas ?? {}) as Components;
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const [method, raw] of Object.entries(item)) {
      const op = raw as Record<string, unknown>;
      const body = (op.requestBody as Record<string, unknown> | undefined)?.content as
        Record<string, { schema: JsonSchema }> | undefined;
      out.push({
        service,
        method,
        path,
        operationId: op.operationId as string,
        secured: ((op.security as unknown[] | undefined) ?? []).some(
          (s) => 'bearerAuth' in (s as object),
        ),
        parameters: (op.parameters as Operation['parameters'] | undefined) ?? [],
        ...(body?.['application/json'] ? { body: body['application/json'].schema } : {}),
        components,
      });
    }
  }
  return out;
}

/** Percent-encodes the UTF-8 bytes (encodeURIComponent throws on a lone surrogate). */
export function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** Cursors shaped like the services' own, holding dates and ids no database would take. */
function hostileCursors(): string[] {
  const id = '0191a7e2-0000-7000-8000-000000000000';
  const dates = [
    '-200000-01-01T00:00:00.000Z',
    '+275760-09-13T00:00:00.000Z',
    '9999-12-31T23:59:59-23:59',
    '0000-01-01T00:00:00.000Z',
    '2024-02-30T00:00:00.000Z',
    'not a date',
  ];
  return [
    ...dates.map((d) => base64url(`${d}|${id}`)),
    ...dates.map((d) => base64url(JSON.stringify([d, id]))),
    base64url('|'),
    base64url('\u0000|\u0000'),
    base64url(JSON.stringify({ __proto__: 1 })),
    base64url(JSON.stringify(['2024-01-01T00:00:00Z', `${id}\u0000`])),
    '!!!not-base64!!!',
    '%00',
    'A'.repeat(199),
  ];
}

/** Realistic values for fields whose name says what the fixture holds. */
function hints(fx: Fixture): Record<string, fc.Arbitrary<unknown>> {
  return {
    email: fc.constantFrom(...fx.emails),
    password: fc.constant(fx.password),
    plan: fc.constantFrom(...fx.plans),
    payCurrency: fc.constantFrom('btc', 'eth', 'usdttrc20', 'ltc', 'doge', 'zzzcoin'),
    defaultPayCurrency: fc.constantFrom('btc', 'eth', null),
    paymentId: fc.constant(fx.paymentId),
    refreshToken: fc.constantFrom(...fx.spareRefreshTokens),
    payment_id: fc.constantFrom(fx.providerPaymentId, Number(fx.providerPaymentId)),
    order_id: fc.constant(fx.paymentId),
    payment_status: fc.constantFrom(...ProviderPaymentStatusSchema.options, 'no-such-status'),
    timeZone: fc.constantFrom('Europe/Paris', 'UTC', 'America/New_York', 'Mars/Olympus'),
  };
}

function withHints(schema: JsonSchema, components: Components, fx: Fixture): fc.Arbitrary<unknown> {
  const known = hints(fx);
  const resolved = schema.$ref
    ? (components[(schema.$ref as string).replace('#/components/schemas/', '')] ?? schema)
    : schema;
  const properties = resolved.properties as Record<string, JsonSchema> | undefined;
  const generated = validValue(schema, components);
  if (!properties || resolved.type !== 'object') return generated;
  const names = Object.keys(properties).filter((n) => n in known);
  if (names.length === 0) return generated;
  return fc
    .tuple(generated, fc.record(Object.fromEntries(names.map((n) => [n, known[n]!]))), fc.boolean())
    .map(([value, realistic, use]) =>
      use && value && typeof value === 'object' && !Array.isArray(value)
        ? { ...value, ...realistic }
        : value,
    );
}

/** The fixture's ids for a path parameter, its own first. */
function realIds(op: Operation, name: string, fx: Fixture): string[] {
  if (name === 'keyId') return [fx.apiKeyId];
  if (name === 'nid') return [fx.notificationId];
  if (op.path.startsWith('/users')) return [fx.userId, fx.userId, fx.userId, fx.otherUserId];
  if (op.path.startsWith('/payments')) return [fx.paymentId];
  if (op.path.startsWith('/agents')) return [fx.agentId];
  if (op.path.startsWith('/auth/sessions')) return fx.sessionIds;
  return [];
}

/** What goes where a path parameter is: the fixture's own ids mostly, strangers and junk too. */
function pathValue(op: Operation, name: string, fx: Fixture): fc.Arbitrary<string> {
  const real = realIds(op, name, fx);
  const junk = fc.oneof(
    fc.constantFrom(...hostileStrings).map((s) => percentEncode(s) || '%20'),
    fc.constantFrom(
      '%00',
      `${fx.userId}%00`,
      '%ZZ',
      '%E0%A4%A',
      '%2e%2e',
      '..%2F..%2Fetc',
      'x'.repeat(3_000),
      fx.paymentId.toUpperCase(),
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      '123',
      '-1',
      '3000000000',
      '__proto__',
      'constructor',
    ),
  );
  return fc.oneof(
    { weight: 6, arbitrary: real.length ? fc.constantFrom(...real) : fc.uuid() },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 3, arbitrary: junk },
  );
}

function queryValue(schema: JsonSchema, op: Operation, fx: Fixture): fc.Arbitrary<string> {
  const valid = validValue(schema, op.components).map((v) =>
    typeof v === 'string' ? v : JSON.stringify(v),
  );
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 1, arbitrary: fc.constantFrom(...fx.cursors, ...hostileCursors()) },
    { weight: 3, arbitrary: fc.constantFrom(...hostileStrings) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...hostileNumbers.map(String), 'Infinity', '0x10', ' 5', '1.5'),
    },
  );
}

/** Query strings: each documented parameter absent, valid or hostile; extras and repeats. */
function queryString(op: Operation, fx: Fixture, hostile: boolean): fc.Arbitrary<string> {
  const params = op.parameters.filter((p) => p.in === 'query');
  const parts = params.map((p) =>
    fc.option(
      (hostile
        ? queryValue(p.schema, op, fx)
        : validValue(p.schema, op.components).map(String)
      ).map((v) => `${percentEncode(p.name)}=${percentEncode(v)}`),
      { nil: undefined, freq: 3 },
    ),
  );
  const extras = hostile
    ? fc.constantFrom(
        '',
        '__proto__[admin]=true',
        'constructor[prototype][x]=1',
        `${params[0]?.name ?? 'limit'}=1&${params[0]?.name ?? 'limit'}=2`,
        'a=%00',
        'a=%ZZ',
        `${params[0]?.name ?? 'x'}=%00`,
        `${params[0]?.name ?? 'x'}[]=1`,
        'x'.repeat(4_000) + '=1',
      )
    : fc.constant('');
  return fc.tuple(fc.tuple(...parts), extras).map(([values, extra]) => {
    const all = [...values.filter((v): v is string => v !== undefined), ...(extra ? [extra] : [])];
    return all.length ? `?${all.join('&')}` : '';
  });
}

interface Body {
  text: string;
  contentType?: string;
  extra?: Record<string, string>;
  kind: string;
}

/** Bodies that are not a JSON object at all, or not JSON, or too much of it. */
function rawBodies(valid: string): Body[] {
  const raw = (
    text: string,
    kind: string,
    contentType = 'application/json',
    extra?: Record<string, string>,
  ) => ({
    text,
    contentType,
    kind,
    ...(extra ? { extra } : {}),
  });
  return [
    raw('{"a":', 'malformed JSON'),
    raw('', 'empty JSON body'),
    raw('null', 'JSON null'),
    raw('"text"', 'JSON string'),
    raw('[1,2,3]', 'JSON array'),
    raw('1e999', 'huge JSON number'),
    raw('{"a":1e999}', 'huge number field'),
    raw(`${'['.repeat(20_000)}${']'.repeat(20_000)}`, 'arrays nested 20000 deep'),
    raw(`${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`, 'objects nested 5000 deep'),
    raw(JSON.stringify({ pad: 'x'.repeat(300_000) }), 'body over the limit'),
    raw(`\uFEFF${valid}`, 'BOM before JSON'),
    raw(
      valid.replace(/^\{/, '{"__proto__":{"role":"admin","isAdmin":true},'),
      '__proto__ key in body',
    ),
    raw(
      valid.replace(/^\{/, '{"constructor":{"prototype":{"isAdmin":true}},'),
      'constructor key in body',
    ),
    raw(valid, 'text/plain body', 'text/plain'),
    raw('email=a%40b.c&password=x', 'form body', 'application/x-www-form-urlencoded'),
    raw(valid, 'latin1 charset', 'application/json; charset=latin1'),
    raw(valid, 'utf-16 charset', 'application/json; charset=utf-16'),
    raw(valid, 'gzip that is not gzip', 'application/json', { 'content-encoding': 'gzip' }),
    raw(valid, 'unknown content-encoding', 'application/json', {
      'content-encoding': 'br, x-fuzz',
    }),
    raw(valid, 'vendor +json type', 'application/vnd.fuzz+json'),
    raw(valid, 'no content type', ''),
  ];
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? 1e308 : v,
  );
}

function bodyArb(op: Operation, fx: Fixture): fc.Arbitrary<Body> | undefined {
  if (!op.body) return undefined;
  const valid = withHints(op.body, op.components, fx);
  return fc.oneof(
    { weight: 4, arbitrary: valid.map((v) => ({ text: jsonText(v), kind: 'valid body' })) },
    {
      weight: 5,
      arbitrary: hostileVariant(valid).map((v) => ({
        text: jsonText(v),
        kind: 'hostile body field',
      })),
    },
    {
      weight: 2,
      arbitrary: valid.chain((v) => fc.constantFrom(...rawBodies(jsonText(v)))),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Body>(
        { text: jsonText(protoObject({ polluted: true })), kind: 'only a __proto__ key' },
        { text: jsonText(nested(2_000)), kind: 'nested arrays' },
        { text: jsonText({ agent: nested(500), name: nested(500) }), kind: 'nested fields' },
      ),
    },
  );
}

type AuthChoice =
  'main' | 'admin' | 'spare' | 'other' | 'none' | 'garbage' | 'api-key' | 'lowercase';

function authArb(op: Operation): fc.Arbitrary<AuthChoice> {
  if (!op.secured) return fc.constantFrom<AuthChoice>('none', 'none', 'none', 'garbage', 'main');
  const usual = usualAuth(op);
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(usual) },
    {
      weight: 4,
      arbitrary: fc.constantFrom<AuthChoice>(
        'admin',
        'spare',
        'other',
        'none',
        'garbage',
        'api-key',
        'lowercase',
      ),
    },
  );
}

/**
 * The credential for a choice. Logout ends the session of the token it is given (or all of the
 * user's): it only ever gets the second user's, so the main user's token lives through the run.
 */
function authorization(
  choice: AuthChoice,
  fx: Fixture,
  pick: number,
  op: Operation,
): string | undefined {
  const spare = fx.spareTokens[pick % Math.max(fx.spareTokens.length, 1)] ?? fx.otherToken;
  const main = op.operationId === 'logout' ? spare : fx.token;
  switch (choice) {
    case 'main':
      return `Bearer ${main}`;
    case 'admin':
      return `Bearer ${op.operationId === 'logout' ? spare : fx.adminToken}`;
    case 'spare':
      return `Bearer ${spare}`;
    case 'other':
      return `Bearer ${fx.otherToken}`;
    case 'api-key':
      return `Bearer ${fx.apiKey}`;
    case 'lowercase':
      return `bearer   ${main}`;
    case 'garbage':
      return [
        'Bearer',
        'Bearer x.y.z',
        `Bearer ${main.slice(0, -4)}AAAA`,
        'Basic Zm9vOmJhcg==',
        `Bearer ${'a'.repeat(6000)}`,
      ][pick % 5];
    default:
      return undefined;
  }
}

/** Documented request headers: absent, plausible or hostile (as far as HTTP lets a header be). */
function headerArb(name: string, fx: Fixture): fc.Arbitrary<string | undefined> {
  const lower = name.toLowerCase();
  const plausible: string[] =
    lower === 'if-match'
      ? ['"0"', '"1"', '"2"', 'W/"1"', '*', '"-1"', '"99999999999999999999"']
      : lower === 'authorization'
        ? [`Bearer ${fx.token}`, `Bearer ${fx.apiKey}`, 'Bearer mm_x_y', `bearer ${fx.token}`]
        : lower === 'x-api-key'
          ? [fx.apiKey, 'mm_nope_nope', `${fx.apiKey}x`]
          : lower === 'idempotency-key'
            ? ['fuzz-1', 'a'.repeat(300), '']
            : ['1', '0', fx.notificationId];
  const junk = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 300,
  });
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(...plausible) },
    { weight: 2, arbitrary: junk.map((s) => s.trim()) },
    { weight: 1, arbitrary: fc.constant('x'.repeat(7_000)) },
  );
}

interface Parts {
  path: string[];
  query: string;
  body?: Body;
  auth: AuthChoice;
  headers: Record<string, string>;
  signed: boolean;
  pick: number;
  kind: string;
}

function usualAuth(op: Operation): AuthChoice {
  if (!op.secured) return 'none';
  if (op.path.startsWith('/payments/{id}/refund')) return 'admin';
  return op.operationId === 'logout' ? 'spare' : 'main';
}

function build(op: Operation, fx: Fixture, parts: Parts): FuzzRequest {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  let target = op.path;
  pathParams.forEach((p, i) => (target = target.replace(`{${p.name}}`, parts.path[i] ?? '')));
  target += parts.query;
  const out: Record<string, string> = { ...parts.headers };
  const credential = authorization(parts.auth, fx, parts.pick, op);
  if (credential && !out.Authorization) out.Authorization = credential;
  // /auth/verify answers only the gateway: mostly called as the gateway calls it.
  if (op.operationId === 'verify' && parts.signed) out['X-Gateway-Secret'] = fx.gatewaySecret;
  let text: string | undefined;
  if (parts.body) {
    text = parts.body.text;
    if (parts.body.contentType !== '')
      out['Content-Type'] = parts.body.contentType ?? 'application/json';
    Object.assign(out, parts.body.extra ?? {});
    if (op.operationId === 'nowpaymentsWebhook' && parts.signed) {
      try {
        out['x-nowpayments-sig'] = fx.signIpn(text);
      } catch {
        // not JSON: left unsigned (or with whatever header the generator chose)
      }
    }
  }
  return {
    method: op.method.toUpperCase(),
    target,
    headers: out,
    ...(text !== undefined ? { body: text } : {}),
    kind: parts.kind || 'valid',
  };
}

/** Requests for one operation: valid ones, and ones with one or more hostile parts. */
export function requestArb(op: Operation, fx: Fixture): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  const body = bodyArb(op, fx) ?? fc.constant(undefined);
  return fc
    .record({
      path: fc.tuple(...pathParams.map((p) => pathValue(op, p.name, fx))),
      query: fc.boolean().chain((h) => queryString(op, fx, h).map((q) => ({ q, h }))),
      body,
      auth: authArb(op),
      headers: fc.tuple(...headerParams.map((p) => headerArb(p.name, fx))),
      signed: fc.nat(9),
      pick: fc.nat(),
    })
    .map(({ path, query, body: chosen, auth, headers, signed, pick }) => {
      const out: Record<string, string> = {};
      headerParams.forEach((p, i) => {
        const value = headers[i];
        if (value !== undefined && !(p.name.toLowerCase() === 'authorization' && op.secured))
          out[p.name] = value;
      });
      const kind = [
        chosen?.kind,
        query.h && query.q ? 'hostile query' : undefined,
        pathParams.length && path.some((v) => !/^[0-9a-f-]{36}$/.test(v))
          ? 'hostile path'
          : undefined,
        auth !== 'main' && op.secured ? `auth ${auth}` : undefined,
      ]
        .filter(Boolean)
        .join(', ');
      return build(op, fx, {
        path,
        query: query.q,
        ...(chosen ? { body: chosen } : {}),
        auth,
        headers: out,
        signed: signed < 8,
        pick,
        kind,
      });
    });
}

/** A realistic body the contract accepts (`accepts` is the zod schema's verdict), as full as any. */
export function baseBody(
  op: Operation,
  fx: Fixture,
  accepts: (value: unknown) => boolean,
  seed: number,
): unknown {
  if (!op.body) return undefined;
  const known = hints(fx);
  const candidates = fc.sample(validValue(op.body, op.components), { numRuns: 200, seed });
  const resolved = resolveBody(op);
  const names = Object.keys(resolved.properties ?? {}).filter((n) => n in known);
  const realistic = fc.sample(fc.record(Object.fromEntries(names.map((n) => [n, known[n]!]))), {
    numRuns: 200,
    seed,
  });
  // The fullest accepted body, so every optional field (an API key's expiresAt, say) gets its
  // turn at the odd values.
  let best: unknown;
  let bestSize = -1;
  for (let i = 0; i < candidates.length; i += 1) {
    const candidate = candidates[i];
    const value =
      candidate && typeof candidate === 'object' && !Array.isArray(candidate)
        ? { ...candidate, ...realistic[i] }
        : candidate;
    const size = pathsOf(value).length;
    if (size > bestSize && accepts(value)) {
      best = value;
      bestSize = size;
    }
  }
  return best ?? candidates.find(accepts);
}

function resolveBody(op: Operation): JsonSchema {
  const schema = op.body ?? {};
  return schema.$ref
    ? (op.components[(schema.$ref as string).replace('#/components/schemas/', '')] ?? schema)
    : schema;
}

/** Dates no PostgreSQL column stores, or that JavaScript reads differently from PostgreSQL. */
const extremeDates = [
  '0001-01-10',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59-23:59',
  '294277-01-01T00:00:00Z',
  '2024-02-30T00:00:00Z',
  '1969-12-31T23:59:59Z',
];
const extremeIntegers = [3_000_000_000, 2 ** 63, -(2 ** 31) - 1, 1e308, -1];

/**
 * The same odd values in every place they fit, one place at a time, on an otherwise valid
 * request: NUL in each string, extreme dates and integers in each field and query parameter,
 * NUL in each path parameter, `__proto__`/`constructor` keys at the top of the body, a key
 * holding NUL. Random runs rarely hit one field of one endpoint; these always do.
 */
export function systematicRequests(op: Operation, fx: Fixture, base: unknown): FuzzRequest[] {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const realPath = pathParams.map((p) => realIds(op, p.name, fx)[0] ?? fx.userId);
  const auth = usualAuth(op);
  const plain = (kind: string, parts: Partial<Parts>): FuzzRequest =>
    build(op, fx, {
      path: realPath,
      query: '',
      ...(base !== undefined ? { body: { text: JSON.stringify(base), kind: '' } } : {}),
      auth,
      headers: {},
      signed: true,
      pick: 0,
      ...parts,
      kind,
    });
  const out: FuzzRequest[] = [];
  pathParams.forEach((p, i) => {
    for (const junk of [
      '%00',
      '%ZZ',
      `${realPath[i]}%00`,
      percentEncode('9999-12-31T23:59:59-23:59'),
    ]) {
      const path = [...realPath];
      path[i] = junk;
      out.push(plain(`path ${p.name}=${junk}`, { path }));
    }
  });
  for (const p of queryParams) {
    const values = [
      'a\u0000b',
      '\u0000',
      ...extremeDates,
      ...extremeIntegers.map(String),
      ...hostileCursors(),
    ];
    for (const v of values)
      out.push(
        plain(`query ${p.name}=${JSON.stringify(v)}`, {
          query: `?${p.name}=${percentEncode(v)}`,
        }),
      );
  }
  if (base !== undefined && typeof base === 'object' && base !== null) {
    // Sign-up takes an address once: each request gets its own, so a NUL elsewhere meets an
    // insert rather than the 409 of an address taken by the request before.
    const unique = (value: unknown, path: (string | number)[]) =>
      op.operationId === 'register' && path[0] !== 'email' && value && typeof value === 'object'
        ? { ...value, email: fx.freshEmail() }
        : value;
    const body = (value: unknown, kind: string) =>
      plain(kind, { body: { text: JSON.stringify(value), kind } });
    for (const path of pathsOf(base)) {
      if (path.length === 0) continue;
      const leaf = valueAt(base, path);
      const where = path.join('.');
      if (typeof leaf === 'string') {
        out.push(
          body(unique(replaceAt(base, path, `${leaf}\u0000`), path), `body ${where} ends in NUL`),
        );
        out.push(body(unique(replaceAt(base, path, '\u0000'), path), `body ${where} is NUL`));
        out.push(
          body(
            unique(replaceAt(base, path, '\udfff\ud800'), path),
            `body ${where} lone surrogates`,
          ),
        );
        for (const date of extremeDates.slice(0, 4))
          out.push(body(unique(replaceAt(base, path, date), path), `body ${where}=${date}`));
      } else if (typeof leaf === 'number') {
        for (const n of extremeIntegers)
          out.push(body(replaceAt(base, path, n), `body ${where}=${n}`));
      }
    }
    out.push(
      body(
        protoObject({ role: 'admin', isAdmin: true }, base as Record<string, unknown>),
        'body with __proto__ key',
      ),
    );
    out.push(
      body({ ...base, constructor: { prototype: { isAdmin: true } } }, 'body with constructor key'),
    );
    out.push(body({ ...base, 'k\u0000ey': 'v' }, 'body with a NUL in a key'));
    // Every endpoint with a body meets every malformed body, not only those a random run picks.
    for (const raw of rawBodies(JSON.stringify(base)))
      out.push(plain(`raw body: ${raw.kind}`, { body: raw }));
  }
  return out;
}

function valueAt(value: unknown, path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) current = (current as Record<string | number, unknown>)[key];
  return current;
}
