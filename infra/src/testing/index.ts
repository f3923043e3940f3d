export * from './resources';
export * from './tcp-proxy';
export * from './capture-logger';
export * from './decider-spec';
export * from './test-issuer';
