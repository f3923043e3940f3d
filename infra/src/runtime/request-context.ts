import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the unit of work in progress: an HTTP request or a consumed message. */
export interface RequestContext {
  correlationId: string;
  causationId?: string;
  userId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export const requestContext = {
  run<T>(context: RequestContext, fn: () => T): T {
    return storage.run(context, fn);
  },
  get(): RequestContext | undefined {
    return storage.getStore();
  },
};
