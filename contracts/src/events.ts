import { type z } from 'zod';

/**
 * An event type: its name (also the routing key on the bus), the zod schema of its data, the
 * schema's version, and upcasters that turn data written under an older version into the
 * current shape when it is read. Stored events are never rewritten.
 */
export interface EventDefinition<T extends string = string, S extends z.ZodType = z.ZodType> {
  readonly type: T;
  readonly schema: S;
  readonly version: number;
  /** `upcasters[n]` turns version-n data into version n+1. */
  readonly upcasters: Readonly<Record<number, (data: unknown) => unknown>>;
  readonly description: string;
}

export function defineEvent<T extends string, S extends z.ZodType>(
  type: T,
  schema: S,
  options: {
    description: string;
    version?: number;
    upcasters?: Record<number, (data: unknown) => unknown>;
  },
): EventDefinition<T, S> {
  const version = options.version ?? 1;
  for (let v = 1; v < version; v++) {
    if (!options.upcasters?.[v])
      throw new Error(`event ${type} v${version} has no upcaster from v${v}`);
  }
  return {
    type,
    schema,
    version,
    upcasters: options.upcasters ?? {},
    description: options.description,
  };
}

/** The domain event a definition describes: `{ type, data }`. */
export type EventOf<D> =
  D extends EventDefinition<infer T, infer S> ? { type: T; data: z.output<S> } : never;

/** The union of the domain events of a list (or record) of definitions. */
export type EventUnion<Defs> = Defs extends readonly EventDefinition[]
  ? EventOf<Defs[number]>
  : Defs extends Record<string, EventDefinition>
    ? EventOf<Defs[keyof Defs]>
    : never;
