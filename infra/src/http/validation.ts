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

/** Parses one part of a request; a failure becomes a 400 naming every bad field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  location: Location,
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error, location);
  const summary = errors
    .map((e) => `${e.in === 'body' ? '' : `${e.in} `}${e.field}: ${e.message}`)
    .join('; ');
  throw HttpError.badRequest(`Invalid request: ${summary}`, errors);
}
