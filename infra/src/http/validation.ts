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
 * Parts of a request no schema should have to think about, because what lies behind them cannot
 * take them: PostgreSQL refuses NUL in text and jsonb (a 500 at the first insert, after work
 * was done), and a `__proto__` key becomes an object's prototype as soon as something copies it
 * (zod's loose objects do). Found anywhere, in a value or a key, the request is refused with
 * the path of each.
 */
export function hazards(value: unknown, location: Location): FieldError[] {
  const found: FieldError[] = [];
  // Iterative: a body nested twenty thousand deep must not exhaust the stack of its checker.
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  const field = (path: string[]) => (path.length ? path.join('.') : location);
  while (stack.length > 0 && found.length < MAX_LISTED) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000'))
        found.push({ field: field(path), in: location, message: 'must not contain NUL (\\u0000)' });
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i -= 1)
        stack.push({ value: current[i], path: [...path, String(i)] });
    } else if (current !== null && typeof current === 'object') {
      for (const key of Object.keys(current).reverse()) {
        const at = [...path, key];
        if (key.includes('\u0000'))
          found.push({ field: field(at), in: location, message: 'a key must not contain NUL' });
        else if (key === '__proto__')
          found.push({ field: field(at), in: location, message: 'not an accepted key' });
        else stack.push({ value: (current as Record<string, unknown>)[key], path: at });
      }
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
