/**
 * Where a Devin session stands, for a poller deciding what to do next:
 * - `final`: nothing more will happen; `reason` says how it ended.
 * - `blocked`: Devin waits for a user message (not final: a message resumes it).
 * - `working`: keep waiting; this includes the suspend/resume values and any status Devin
 *   adds later, because waiting (bounded by the poller's deadline) is the safe reading.
 */
export type SessionPhase =
  { phase: 'final'; reason: FinalReason } | { phase: 'blocked' } | { phase: 'working' };

/** `exited`: terminated (`status: "exit"`), `stopped` (legacy) or errored. */
export type FinalReason = 'finished' | 'expired' | 'exited';

/** Free-text `status` values that end a session whatever `status_enum` still says. */
const EXITED_STATUSES = new Set(['exit', 'stopped', 'error']);

export function classifySession(session: {
  status: string;
  status_enum: string | null;
}): SessionPhase {
  // Without status_enum (it is nullable), the free-text status may carry the same words.
  const value = session.status_enum ?? session.status;
  if (value === 'finished') return { phase: 'final', reason: 'finished' };
  if (value === 'expired') return { phase: 'final', reason: 'expired' };
  // A terminated session may keep the status_enum it had (`working`): `status` wins.
  if (EXITED_STATUSES.has(session.status)) return { phase: 'final', reason: 'exited' };
  if (value === 'blocked') return { phase: 'blocked' };
  return { phase: 'working' };
}
