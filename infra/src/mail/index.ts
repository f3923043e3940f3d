export * from './config';
export * from './mailer';
export * from './outbox';
export * from './sender';
export * from './mail-policy';
export * from './mail-service';
