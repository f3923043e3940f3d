import { z } from 'zod';
import { HttpError } from '@meetmatt/infra';
import { type PageCursor } from '../projections/agent-queries';

/** The instants a cursor can hold: those an agent can have been created at, give or take. */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const CursorSchema = z.tuple([
  z.iso.datetime({ offset: true }).refine((text) => {
    const at = Date.parse(text);
    return Number.isFinite(at) && at >= EARLIEST && at <= LATEST;
  }),
  z.uuid(),
]);

/** Opaque to clients: the (created_at, id) of the last item of the previous page. */
export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id])).toString(
    'base64url',
  );
}

export function decodeCursor(text: string | undefined): PageCursor | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const cursor = CursorSchema.safeParse(parsed);
  if (!cursor.success) {
    throw HttpError.badRequest('The cursor is not one this API gave out', [
      { field: 'cursor', in: 'query', message: 'not a cursor from a previous page' },
    ]);
  }
  return { createdAt: new Date(cursor.data[0]), id: cursor.data[1] };
}
