import { type EventDefinition } from '@meetmatt/contracts';
import { activeTraceFields } from '../tracing/propagation';
import { EventValidationError } from './errors';
import { type DomainEvent } from '../domain';
import { type NewEvent, type RecordedEvent } from './types';

/**
 * The parts of metadata a caller supplies; the schema version comes from the definition.
 * (Spelled out: `Omit` over EventMetadata's index signature would accept anything.)
 */
export interface CausalMetadata {
  correlationId: string;
  causationId: string;
  userId?: string | undefined;
  [extra: string]: unknown;
}

/**
 * The events one service writes and reads, by type. Data is validated against its schema on
 * the way in (nothing malformed is ever stored) and on the way out (after upcasting from the
 * version it was written with).
 */
export class EventCatalog<E extends DomainEvent = DomainEvent> {
  private readonly byType = new Map<string, EventDefinition>();

  constructor(definitions: readonly EventDefinition[]) {
    for (const definition of definitions) {
      if (this.byType.has(definition.type))
        throw new Error(`event type ${definition.type} defined twice`);
      this.byType.set(definition.type, definition);
    }
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  get types(): string[] {
    return [...this.byType.keys()];
  }

  definition(type: string): EventDefinition {
    const definition = this.byType.get(type);
    if (!definition) throw new Error(`unknown event type ${type}`);
    return definition;
  }

  /** A domain event ready to append: data validated, schema version stamped. */
  toNew(event: E, metadata: CausalMetadata, id?: string): NewEvent {
    const definition = this.definition(event.type);
    const parsed = definition.schema.safeParse(event.data);
    if (!parsed.success) throw new EventValidationError(event.type, parsed.error.message);
    return {
      ...(id ? { id } : {}),
      type: event.type,
      data: parsed.data,
      // The trace of the work in progress, so the relay's later publish continues it.
      metadata: {
        ...activeTraceFields(),
        ...dropUndefined(metadata),
        schemaVersion: definition.version,
      },
    };
  }

  /** A stored event as the current version of its domain event. */
  toDomain(recorded: RecordedEvent): E {
    return { type: recorded.type, data: this.upcast(recorded) } as E;
  }

  /** Upcasts and validates a stored event's data. */
  upcast(recorded: Pick<RecordedEvent, 'type' | 'data' | 'metadata'>): unknown {
    const definition = this.definition(recorded.type);
    let data = recorded.data;
    for (let v = recorded.metadata.schemaVersion ?? 1; v < definition.version; v++) {
      const upcaster = definition.upcasters[v];
      if (!upcaster) throw new EventValidationError(recorded.type, `no upcaster from version ${v}`);
      data = upcaster(data);
    }
    const parsed = definition.schema.safeParse(data);
    if (!parsed.success) throw new EventValidationError(recorded.type, parsed.error.message);
    return parsed.data;
  }
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
