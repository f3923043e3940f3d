export * from './resources';
export * from './tcp-proxy';
export * from './capture-logger';
export * from './test-issuer';
export * from './eventually';
