export * from './api-schemas';
export * from './client';
export * from './errors';
export { type DevinRetryPolicy, defaultRetryPolicy } from './retry';
export * from './session-phase';
export { type DevinSandbox, type DevinSandboxOptions, createDevinSandbox } from './sandbox';
export { type RecordedCall } from './sandbox-calls';
export { type FaultPlan } from './sandbox-faults';
export { type SandboxSessionView } from './sandbox-wire';
