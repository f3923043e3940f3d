// `@meetmatt/infra/domain`: the only part of infra a service's `src/domain/` may import.
export * from './decider';
