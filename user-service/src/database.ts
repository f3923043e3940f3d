import { type ColumnType, type Generated } from 'kysely';
import {
  type BillingDetails,
  type NotificationKind,
  type Preferences,
  type Role,
} from '@meetmatt/contracts';

/** The service's own tables (migrations/). */
export interface ServiceTables {
  credentials: { user_id: string; password_hash: string; updated_at: Generated<Date> };
  refresh_tokens: {
    token_hash: string;
    session_id: string;
    user_id: string;
    created_at: Generated<Date>;
    expires_at: Date;
    used_at: Date | null;
  };
  api_key_credentials: {
    key_id: string;
    prefix: string;
    secret_hash: string;
    user_id: string;
    created_at: Generated<Date>;
    last_used_at: Date | null;
  };
  login_throttle: {
    /** sha256 of the email's key and the client address (LoginThrottle.key). */
    email_hash: string;
    failures: number;
    last_failure_at: Date;
    blocked_until: Date | null;
  };
  auth_rate_limits: { key: string; window_start: Date; hits: number };
  signing_keys: { kid: string; private_jwk: unknown; created_at: Generated<Date> };
  api_usage_daily: { user_id: string; day: string; requests: number };
  session_activity: { session_id: string; last_used_at: Date };
  usage_facts: {
    event_id: string;
    user_id: string;
    kind: UsageFactKind;
    day: string;
    amount: string | null;
    currency: string | null;
  };
  inbox: { consumer: string; message_id: string; processed_at: Generated<Date> };
}

export type UsageFactKind =
  | 'payment.opened'
  | 'payment.confirmed'
  | 'payment.failed'
  | 'agent.deployed'
  | 'agent.failed'
  | 'agent.rebuild';

/** The read models (projections/). */
export interface ReadModelTables {
  users: {
    id: string;
    email: string;
    display_name: string;
    role: Role;
    created_at: Date;
    updated_at: Date;
    revision: number;
    preferences: Preferences;
    billing: ColumnType<BillingDetails | null, string | null, string | null>;
  };
  sessions: {
    id: string;
    user_id: string;
    created_at: Date;
    user_agent: string | null;
    ip: string | null;
    revoked_at: Date | null;
    revoke_reason: string | null;
  };
  api_keys: {
    id: string;
    user_id: string;
    name: string;
    prefix: string;
    created_at: Date;
    expires_at: Date | null;
    revoked_at: Date | null;
  };
  notifications: {
    id: string;
    user_id: string;
    kind: NotificationKind;
    title: string;
    body: string;
    link: string | null;
    correlation_id: string | null;
    created_at: Date;
    read_at: Date | null;
  };
}

export type UserDb = ServiceTables & ReadModelTables;
