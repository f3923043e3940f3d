import {
  type ServiceKey,
  agentEvents,
  paymentEventTypes,
  paymentEvents,
  services,
  userEvents,
} from '@meetmatt/contracts';
import { type AllFilter, EventCatalog, type Projection } from '@meetmatt/infra';
import { UsageError } from './errors';

/** What the CLI knows about one service: names, where its events go, its read models. */
export interface ServiceInfo {
  key: ServiceKey;
  name: string;
  exchange: string;
  /** The events its store holds, as its projections see them (upcast, validated). */
  catalog(): EventCatalog;
  /** The service's projection definitions, loaded only by the commands that need them. */
  projections(): Promise<Projection[]>;
  /** The events its relay publishes (the rest stay inside the service): what republish may send. */
  published: AllFilter | undefined;
}

export const serviceOrder: ServiceKey[] = ['payment', 'user', 'brain'];

export const serviceInfo: Record<ServiceKey, ServiceInfo> = {
  payment: {
    key: 'payment',
    name: services.payment.name,
    exchange: services.payment.exchange,
    catalog: () => new EventCatalog(Object.values(paymentEvents)),
    projections: async () => [
      (await import('@meetmatt/payment-service/projections/payments')).paymentsProjection,
    ],
    // As in payment-service/src/main.ts: IPN evidence and invoice and credit-note counters stay off the bus.
    published: {
      eventTypes: Object.values(paymentEventTypes).filter(
        (type) =>
          type !== paymentEventTypes.ipnReceived &&
          type !== paymentEventTypes.invoiceNumberAllocated &&
          type !== paymentEventTypes.creditNoteNumberAllocated,
      ),
    },
  },
  user: {
    key: 'user',
    name: services.user.name,
    exchange: services.user.exchange,
    catalog: () => new EventCatalog(Object.values(userEvents)),
    projections: async () => (await import('@meetmatt/user-service/projections/index')).projections,
    published: undefined,
  },
  brain: {
    key: 'brain',
    name: services.brain.name,
    exchange: services.brain.exchange,
    catalog: () => new EventCatalog(Object.values(agentEvents)),
    projections: async () => [
      (await import('@meetmatt/brain-service/projections/agents-projection')).agentsProjection,
    ],
    published: undefined,
  },
};

/** `payment`, `payment-service` → `payment`. */
export function parseServiceKey(text: string): ServiceKey {
  const key = text
    .trim()
    .toLowerCase()
    .replace(/-service$/, '');
  if (key === 'payment' || key === 'user' || key === 'brain') return key;
  throw new UsageError(`--service expects payment, user or brain, got ${JSON.stringify(text)}`);
}

/** The services a command looks at: the one named by --service, or all three. */
export function selectedServices(option: string | undefined): ServiceKey[] {
  return option === undefined ? serviceOrder : [parseServiceKey(option)];
}
