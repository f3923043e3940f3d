import { type Migration, sql } from 'kysely';
import { type Migrations } from '@meetmatt/infra';

/**
 * The secrets and counters that never go into events: password hashes, refresh-token hashes,
 * API-key hashes, login throttling, signing keys kept for development, and usage counts.
 */
const secrets: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE credentials (
        user_id uuid PRIMARY KEY,
        password_hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`.execute(db);
    await sql`
      CREATE TABLE refresh_tokens (
        token_hash text PRIMARY KEY,
        session_id uuid NOT NULL,
        user_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      )`.execute(db);
    await sql`CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)`.execute(db);
    await sql`
      CREATE TABLE api_key_credentials (
        key_id uuid PRIMARY KEY,
        prefix text NOT NULL UNIQUE,
        secret_hash text NOT NULL,
        user_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      )`.execute(db);
    await sql`
      CREATE TABLE login_throttle (
        email_hash text PRIMARY KEY,
        failures integer NOT NULL,
        last_failure_at timestamptz NOT NULL,
        blocked_until timestamptz
      )`.execute(db);
    await sql`
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        private_jwk jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`.execute(db);
  },
  async down(db) {
    for (const table of [
      'signing_keys',
      'login_throttle',
      'api_key_credentials',
      'refresh_tokens',
      'credentials',
    ])
      await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  },
};

/** Usage: API requests counted by /auth/verify, and facts taken from payment and agent events. */
const usage: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE api_usage_daily (
        user_id uuid NOT NULL,
        day date NOT NULL,
        requests bigint NOT NULL,
        PRIMARY KEY (user_id, day)
      )`.execute(db);
    await sql`
      CREATE TABLE session_activity (
        session_id uuid PRIMARY KEY,
        last_used_at timestamptz NOT NULL
      )`.execute(db);
    await sql`
      CREATE TABLE usage_facts (
        event_id text PRIMARY KEY,
        user_id uuid NOT NULL,
        kind text NOT NULL,
        day date NOT NULL,
        amount numeric,
        currency text
      )`.execute(db);
    await sql`CREATE INDEX usage_facts_user_day ON usage_facts (user_id, day)`.execute(db);
  },
  async down(db) {
    for (const table of ['usage_facts', 'session_activity', 'api_usage_daily'])
      await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  },
};

/** Sign-up and sign-in counters per client address and per account (AuthLimits). */
const authLimits: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE auth_rate_limits (
        key text PRIMARY KEY,
        window_start timestamptz NOT NULL,
        hits integer NOT NULL
      )`.execute(db);
    await sql`CREATE INDEX auth_rate_limits_window ON auth_rate_limits (window_start)`.execute(db);
  },
  async down(db) {
    await sql`DROP TABLE IF EXISTS auth_rate_limits`.execute(db);
  },
};

/**
 * Single-use tickets that open a notification stream from a browser (EventSource cannot send
 * Authorization). Only a hash is kept; a ticket is deleted as it is used.
 */
const streamTickets: Migration = {
  async up(db) {
    await sql`
      CREATE TABLE stream_tickets (
        ticket_hash text PRIMARY KEY,
        user_id uuid NOT NULL,
        session_id text NOT NULL,
        api_key_id text,
        access_expires_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      )`.execute(db);
    await sql`CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at)`.execute(db);
  },
  async down(db) {
    await sql`DROP TABLE IF EXISTS stream_tickets`.execute(db);
  },
};

/** The user service's own tables, in order. Projection tables belong to their projections. */
export const migrations: Migrations = {
  '20261201-01-secrets': secrets,
  '20261201-02-usage': usage,
  '20261202-01-auth-limits': authLimits,
  '20261202-02-stream-tickets': streamTickets,
};
