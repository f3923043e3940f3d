import { type z } from 'zod';
import { type FieldError, HttpError } from './errors';

type Location = FieldError['in'];

export function fieldErrors(error: z.ZodError, location: Location): FieldError[] {
  return error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join('.') : location,
    in: location,
    message: issue.message,
  }));
}

/** Past this many, a request's odd parts are summed up rather than listed one by one. */
const MAX_LISTED = 10;

/**
 * Deeper than any request the contracts describe; past it a body is refused before recursive
 * code (zod, signature canonicalisation, log redaction) walks it.
 */
export const MAX_DEPTH = 64;

/** A UTF-16 surrogate without its other half: JSON can carry it, jsonb cannot store it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface Node {
  value: unknown;
  key: string | undefined;
  parent: Node | undefined;
  depth: number;
}

function pathOf(node: Node, location: Location): string {
  const keys: string[] = [];
  for (let at: Node | undefined = node; at?.key !== undefined; at = at.parent) keys.push(at.key);
  return keys.length ? keys.reverse().join('.') : location;
}

/**
 * Parts of a request no schema should have to think about, because what lies behind them cannot
 * take them: PostgreSQL refuses NUL in text and jsonb and a lone surrogate in jsonb (a 500 at the
 * first insert, after work was done), a `__proto__` key becomes an object's prototype as soon as
 * something copies it (zod's loose objects do), and nesting past MAX_DEPTH is no request we
 * describe. Found anywhere, in a value or a key, the request is refused with the path of each.
 */
export function hazards(value: unknown, location: Location): FieldError[] {
  const found: FieldError[] = [];
  const report = (node: Node, message: string) =>
    found.push({ field: pathOf(node, location), in: location, message });
  // Iterative, with paths built only for what is reported: a body nested twenty thousand deep
  // costs one step per value.
  const stack: Node[] = [{ value, key: undefined, parent: undefined, depth: 0 }];
  while (stack.length > 0 && found.length < MAX_LISTED) {
    const node = stack.pop()!;
    const current = node.value;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) report(node, 'must not contain NUL (\\u0000)');
      else if (LONE_SURROGATE.test(current))
        report(node, 'must be valid Unicode (a lone surrogate)');
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (node.depth >= MAX_DEPTH) {
      report(node, `nested deeper than ${MAX_DEPTH} levels`);
      continue;
    }
    const keys = Array.isArray(current) ? current.map((_v, i) => String(i)) : Object.keys(current);
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const key = keys[i]!;
      const child: Node = {
        value: (current as Record<string, unknown>)[key],
        key,
        parent: node,
        depth: node.depth + 1,
      };
      if (key.includes('\u0000')) report(child, 'a key must not contain NUL');
      else if (key === '__proto__') report(child, 'not an accepted key');
      else if (LONE_SURROGATE.test(key)) report(child, 'a key must be valid Unicode');
      else stack.push(child);
    }
  }
  return found;
}

/** Parses one part of a request; a failure becomes a 400 naming every bad field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  location: Location,
): z.infer<S> {
  const odd = hazards(value, location);
  if (odd.length) throw invalid(odd);
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalid(fieldErrors(result.error, location));
}

function invalid(errors: FieldError[]): HttpError {
  const summary = errors
    .map((e) => `${e.in === 'body' ? '' : `${e.in} `}${e.field}: ${e.message}`)
    .join('; ');
  return HttpError.badRequest(`Invalid request: ${summary}`, errors);
}
