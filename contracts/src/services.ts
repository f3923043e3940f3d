/** The services of the backend, their default ports and the exchange each publishes to. */
export const services = {
  payment: {
    name: 'payment-service',
    port: 3001,
    exchange: 'payment.events',
    streamPrefix: 'payment',
  },
  user: { name: 'user-service', port: 3002, exchange: 'user.events', streamPrefix: 'user' },
  brain: { name: 'brain-service', port: 3003, exchange: 'brain.events', streamPrefix: 'agent' },
} as const;

export type ServiceKey = keyof typeof services;
export type ServiceName = (typeof services)[ServiceKey]['name'];

/** The gateway's default local port. */
export const GATEWAY_PORT = 8080;
