import { type ColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A column with a database default: optional on insert. */
type WithDefault<T> = ColumnType<T, T | undefined, T>;
type Json<T> = ColumnType<T | null, string | null | undefined, string | null>;

/** What the brain knows of a payment, from the bus: written by the payment-events consumer. */
export interface PaymentsTable {
  payment_id: string;
  user_id: string;
  /** `pending` (created), `confirmed`, `failed`, `expired`, `partially_paid`, `refunded`. */
  status: string;
  plan: string | null;
  agent: Json<{ name: string; instructions: string; repository?: string | undefined }>;
  auto_deploy: boolean | null;
  /** The plan's Devin budget, as the payment service's catalogue said. */
  max_acu_limit: number | null;
  confirmed_at: Timestamp | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface AgentsTable {
  id: string;
  user_id: string;
  payment_id: string;
  plan: string;
  name: string;
  slug: string;
  instructions: string;
  repository: string;
  status: string;
  build: number;
  /** Null for agents deployed before the count was recorded: the configured one applies. */
  builds_included: number | null;
  attempt: number;
  session_id: string | null;
  session_url: string | null;
  session_status: string | null;
  follow_ups_sent: WithDefault<number>;
  pull_request_url: string | null;
  structured_output: Json<Record<string, unknown>>;
  failure_reason: string | null;
  log_lines: WithDefault<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AgentHistoryTable {
  agent_id: string;
  /** The event's revision in the agent's stream. */
  revision: number;
  type: string;
  at: Timestamp;
  detail: string | null;
}

export interface AgentLogLinesTable {
  agent_id: string;
  /** 1, 2, 3… per agent, in the order the lines were recorded. */
  seq: number;
  session_id: string;
  at: Timestamp;
  kind: string;
  text: string;
}

export interface BrainDb {
  payments: PaymentsTable;
  agents: AgentsTable;
  agent_history: AgentHistoryTable;
  agent_log_lines: AgentLogLinesTable;
}
