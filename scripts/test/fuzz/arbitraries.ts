import fc from 'fast-check';

/**
 * fast-check arbitraries made from the JSON Schemas of the services' OpenAPI documents (which
 * zod generates from the contracts), so a new field or endpoint is fuzzed without anyone
 * writing a generator for it. Three kinds of value: valid (what the schema allows), boundary
 * (its edges: empty, longest, smallest, largest) and hostile (what it does not allow, and what
 * a database or a parser chokes on).
 */

export type JsonSchema = Record<string, unknown>;
export type Components = Record<string, JsonSchema>;

/** Strings that have broken services somewhere: NUL, lone surrogates, direction overrides, … */
export const hostileStrings: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  'Agent \u0000 name',
  '\u0000'.repeat(64),
  '\uD800',
  '\uDFFF\uD800',
  '\u202Emoc.elpmaxe',
  '\uFEFFbom',
  '\uFFFF\uFFFE',
  '🤖'.repeat(50),
  'é'.normalize('NFD').repeat(30),
  'x'.repeat(5_000),
  "'; DROP TABLE es_events; --",
  '%00',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  '{"__proto__":{"admin":true}}',
  'null',
  'NaN',
  '-1',
  '1e400',
  '0001-01-10',
  '9999-12-31T23:59:59-23:59',
  '-200000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '2024-02-30T00:00:00Z',
  '0000-00-00T00:00:00Z',
  '294277-01-01',
  'meetmatt/backend',
  '<script>alert(1)</script>',
  '\r\nX-Injected: 1',
];

/** Numbers at and past the edges of int4, int8, doubles and JavaScript's safe integers. */
export const hostileNumbers: readonly number[] = [
  0,
  -0,
  -1,
  0.5,
  1e-300,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31) - 1,
  3_000_000_000,
  2 ** 53,
  2 ** 63,
  -(2 ** 63),
  1e21,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
];

/** A value of the wrong shape for almost any field. */
export const wrongTypes: readonly unknown[] = [
  null,
  true,
  false,
  [],
  {},
  [null],
  ['\u0000'],
  { $gt: '' },
  { toString: 'x' },
  protoObject({ admin: true, role: 'admin' }),
  constructorObject(),
  nested(50),
];

/** An object whose own (enumerable, JSON-visible) key is `__proto__`. */
export function protoObject(inner: unknown, base: Record<string, unknown> = {}): object {
  const out = { ...base };
  Object.defineProperty(out, '__proto__', {
    value: inner,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return out;
}

export function constructorObject(): object {
  return { constructor: { prototype: { polluted: 'yes', isAdmin: true } } };
}

/** `depth` arrays, one inside the other. */
export function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i += 1) value = [value];
  return value;
}

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...hostileStrings) },
  { weight: 2, arbitrary: fc.constantFrom(...hostileNumbers) },
  { weight: 2, arbitrary: fc.constantFrom(...wrongTypes) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }))
      .map(([a, b]) => `${a}\u0000${b}`),
  },
);

/** The schema a `$ref` points to, or the schema itself. */
export function resolve(schema: JsonSchema, components: Components): JsonSchema {
  let current = schema;
  for (let i = 0; i < 20 && typeof current.$ref === 'string'; i += 1) {
    const name = current.$ref.replace('#/components/schemas/', '');
    const target = components[name];
    if (!target) throw new Error(`unresolved $ref ${current.$ref}`);
    current = { ...target, ...omit(current, '$ref') };
  }
  return current;
}

function omit(schema: JsonSchema, key: string): JsonSchema {
  const { [key]: _dropped, ...rest } = schema;
  return rest;
}

const isoDate = (min: number, max: number) =>
  fc
    .date({
      min: new Date(Date.UTC(min, 0, 1)),
      max: new Date(Date.UTC(max, 11, 31)),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString());

/** Values the schema accepts, leaning towards its edges now and then. */
export function validValue(
  input: JsonSchema,
  components: Components,
  depth = 0,
): fc.Arbitrary<unknown> {
  const schema = resolve(input, components);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if ('const' in schema) return fc.constant(schema.const);
  const alternatives = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (alternatives?.length)
    return fc.oneof(...alternatives.map((s) => validValue(s, components, depth + 1)));
  if (Array.isArray(schema.allOf) && schema.allOf.length)
    return validValue(
      Object.assign({}, ...(schema.allOf as JsonSchema[]).map((s) => resolve(s, components))),
      components,
      depth + 1,
    );
  const type = schema.type;
  if (Array.isArray(type))
    return fc.oneof(...type.map((t) => validValue({ ...schema, type: t }, components, depth + 1)));
  switch (type) {
    case 'string':
      return stringValue(schema);
    case 'integer':
    case 'number':
      return numberValue(schema, type === 'integer');
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = (schema.items as JsonSchema | undefined) ?? {};
      const minLength = (schema.minItems as number | undefined) ?? 0;
      const maxLength = Math.min((schema.maxItems as number | undefined) ?? 5, minLength + 5);
      return fc.array(validValue(items, components, depth + 1), { minLength, maxLength });
    }
    case 'object':
      return objectValue(schema, components, depth);
    default:
      return depth > 3 ? fc.constant(null) : fc.jsonValue({ maxDepth: 2 });
  }
}

function stringValue(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = (schema.minLength as number | undefined) ?? 0;
  const maxLength = (schema.maxLength as number | undefined) ?? 200;
  switch (schema.format) {
    case 'uuid':
      return fc.uuid();
    case 'email':
      return fc
        .tuple(fc.stringMatching(/^[a-z][a-z0-9.]{0,20}$/), fc.stringMatching(/^[a-z]{1,12}$/))
        .map(([local, domain]) => `${local.replace(/\.+$/, '')}@${domain}.example.com`);
    case 'date-time':
      return fc.oneof(
        isoDate(2000, 2100),
        fc.constantFrom('1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z'),
      );
    case 'date':
      return isoDate(1971, 2100).map((s) => s.slice(0, 10));
    default:
      break;
  }
  if (typeof schema.pattern === 'string') {
    return fc
      .stringMatching(new RegExp(schema.pattern))
      .filter((s) => s.length >= minLength && s.length <= maxLength);
  }
  const body = fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength, 60) });
  const trimmed = body.map((s) => s.trim()).filter((s) => s.length >= Math.max(minLength, 1));
  return fc.oneof(
    { weight: 6, arbitrary: minLength > 0 ? trimmed : body },
    { weight: 1, arbitrary: fc.constant('x'.repeat(Math.max(minLength, 1))) },
    { weight: 1, arbitrary: fc.constant('y'.repeat(Math.max(maxLength, minLength))) },
  );
}

function numberValue(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min =
    (schema.minimum as number | undefined) ??
    (schema.exclusiveMinimum as number | undefined) ??
    -1e6;
  const max =
    (schema.maximum as number | undefined) ??
    (schema.exclusiveMaximum as number | undefined) ??
    1e9;
  const edges = [min, max].filter(Number.isFinite);
  if (integer) {
    const lo = Math.max(Math.ceil(min), Number.MIN_SAFE_INTEGER);
    const hi = Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER);
    return fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: lo, max: hi }) },
      { weight: 1, arbitrary: fc.constantFrom(...edges.map(Math.round)) },
    );
  }
  return fc.oneof(
    { weight: 4, arbitrary: fc.double({ min, max, noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.constantFrom(...edges) },
  );
}

function objectValue(
  schema: JsonSchema,
  components: Components,
  depth: number,
): fc.Arbitrary<unknown> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties))
    shape[name] = validValue(property, components, depth + 1);
  if (Object.keys(shape).length === 0)
    return depth > 3
      ? fc.constant({})
      : fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
  return fc.record(shape, { requiredKeys: [...required].filter((k) => k in shape) });
}

/** Every path inside a JSON value that leads to something (the root included). */
export function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

/** A copy of `value` with the thing at `path` replaced. */
export function replaceAt(
  value: unknown,
  path: (string | number)[],
  replacement: unknown,
): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(value)) {
    const copy = [...value];
    copy[head as number] = replaceAt(copy[head as number], rest, replacement);
    return copy;
  }
  const copy = { ...(value as Record<string, unknown>) };
  copy[head as string] = replaceAt(copy[head as string], rest, replacement);
  return copy;
}

/**
 * A valid value with one of its parts replaced by something hostile, a hostile key added to one
 * of its objects, or the whole of it replaced.
 */
export function hostileVariant(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(valid, fc.nat(), hostileValue, fc.integer({ min: 0, max: 4 }))
    .map(([value, pick, hostile, how]) => {
      const paths = pathsOf(value);
      const path = paths[pick % paths.length] ?? [];
      if (how === 0) {
        const objects = paths.filter((p) => isObjectAt(value, p));
        const at = objects[pick % Math.max(objects.length, 1)];
        if (at)
          return replaceAt(
            value,
            at,
            protoObject({ role: 'admin', isAdmin: true }, objectAt(value, at)),
          );
      }
      if (how === 1) {
        const objects = paths.filter((p) => isObjectAt(value, p));
        const at = objects[pick % Math.max(objects.length, 1)];
        if (at) return replaceAt(value, at, { ...objectAt(value, at), ...constructorObject() });
      }
      return replaceAt(value, path.length ? path : [], hostile);
    });
}

function objectAt(value: unknown, path: (string | number)[]): Record<string, unknown> {
  let current = value;
  for (const key of path) current = (current as Record<string | number, unknown>)[key];
  return current as Record<string, unknown>;
}

function isObjectAt(value: unknown, path: (string | number)[]): boolean {
  const at = objectAt(value, path);
  return !!at && typeof at === 'object' && !Array.isArray(at);
}
