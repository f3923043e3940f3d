import { type Kysely } from 'kysely';
import { type UserEvent } from '@meetmatt/contracts';
import {
  type EventCatalog,
  type EventStore,
  type Logger,
  type Mail,
  type Metrics,
  type Position,
} from '@meetmatt/infra';
import { type UserConfig } from '../config';
import { type UserDb } from '../database';
import { type AccessTokens } from './access-tokens';
import { type ApiKeyCache } from './api-key-cache';
import { type LoginThrottle } from './login-throttle';
import { type PasswordHasher } from './passwords';
import { type AuthLimits } from './rate-limits';
import { type Revocations } from './revocations';
import { type UsageRecorder } from './usage-recorder';

/**
 * Everything the user service's handlers may depend on, built once in main.ts. Nothing takes
 * the whole set: each function or route module names the fields it uses
 * (`Pick<UserDependencies, …>`), so its signature says what it can touch.
 */
export interface UserDependencies {
  config: UserConfig;
  store: EventStore;
  catalog: EventCatalog<UserEvent>;
  db: Kysely<UserDb>;
  logger: Logger;
  metrics: Metrics;
  passwords: PasswordHasher;
  throttle: LoginThrottle;
  limits: AuthLimits;
  tokens: AccessTokens;
  revocations: Revocations;
  apiKeys: ApiKeyCache;
  usage: UsageRecorder;
  /** Queues mails (the sender sends them with retries; see application/mails.ts). */
  mail: Pick<Mail, 'enqueue'>;
  /** Read-your-writes: returns once the read models have passed `position` (or the wait ran out). */
  waitForProjections(position: Position | undefined): Promise<void>;
  now(): Date;
}
