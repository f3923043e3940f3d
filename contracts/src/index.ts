export * from './http';
export * from './openapi';
export * from './services';
export * from './messaging';
export * from './events';
export * from './payment/api';
export * from './user/api';
export * from './brain/api';
