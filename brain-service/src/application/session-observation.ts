import { type BuildLogLineSchema } from '@meetmatt/contracts';
import { type z } from 'zod';
import { type DevinSession, classifySession } from '../devin';
import { type CurrentSession, STATUS_LINE } from '../domain/agent';

type BuildLogLine = z.infer<typeof BuildLogLineSchema>;

/** Messages recorded per progress event at most; a longer backlog is recorded over several polls. */
export const MAX_LINES_PER_PROGRESS = 200;
/** A longer Devin message is cut in the build log (the session URL has it whole). */
export const MAX_LINE_LENGTH = 8_000;

export type NextStep =
  | { kind: 'wait' }
  | { kind: 'follow-up' }
  | {
      kind: 'deployed';
      pullRequestUrl: string | null;
      structuredOutput: Record<string, unknown> | null;
    }
  /** `terminate`: the session may still be running (and spending) and should be stopped. */
  | { kind: 'failed'; reason: string; terminate: boolean };

export interface Observation {
  /** What to record, when anything changed. */
  progress: { status: string; lines: BuildLogLine[]; followUpsSent: number } | null;
  next: NextStep;
}

export interface ObservationPolicy {
  /** Answers a blocked session gets before the attempt fails. */
  followUpLimit: number;
}

/**
 * What one poll of a Devin session means for the build: the new status and messages to record,
 * and what to do next. Pure: the tracker does the I/O.
 */
export function observeSession(
  session: CurrentSession,
  devin: DevinSession,
  policy: ObservationPolicy,
  now: Date,
): Observation {
  const phase = classifySession(devin);
  const status =
    phase.phase === 'final' && phase.reason === 'exited'
      ? devin.status
      : (devin.status_enum ?? devin.status);
  const backlog = devin.messages.slice(session.messagesSeen);
  const taken = backlog.slice(0, MAX_LINES_PER_PROGRESS);
  const lines: BuildLogLine[] = taken.map((m) => ({
    at: isoOr(m.timestamp, now),
    kind: m.type,
    text:
      m.message.length > MAX_LINE_LENGTH ? `${m.message.slice(0, MAX_LINE_LENGTH)}…` : m.message,
  }));
  if (status !== session.status) {
    lines.push({ at: isoOr(devin.updated_at, now), kind: STATUS_LINE, text: status });
  }
  // Crash-safe: a follow-up sent just before a crash shows in the session, if not in our events.
  const answers = devin.messages.filter((m) => m.type === 'user_message').length;
  const followUpsSent = Math.max(session.followUpsSent, answers);
  const changed = lines.length > 0 || followUpsSent !== session.followUpsSent;
  const progress = changed ? { status, lines, followUpsSent } : null;
  if (backlog.length > taken.length) return { progress, next: { kind: 'wait' } };
  return { progress, next: nextStep(devin, phase, followUpsSent, policy) };
}

function nextStep(
  devin: DevinSession,
  phase: ReturnType<typeof classifySession>,
  followUpsSent: number,
  policy: ObservationPolicy,
): NextStep {
  switch (phase.phase) {
    case 'working':
      return { kind: 'wait' };
    case 'blocked': {
      // Our last answer is still the newest message: Devin has not taken it up yet.
      if (devin.messages[devin.messages.length - 1]?.type === 'user_message')
        return { kind: 'wait' };
      if (followUpsSent < policy.followUpLimit) return { kind: 'follow-up' };
      return {
        kind: 'failed',
        reason: `Devin was still blocked after ${followUpsSent} follow-up message${followUpsSent === 1 ? '' : 's'}`,
        terminate: true,
      };
    }
    case 'final':
      switch (phase.reason) {
        case 'finished': {
          const pullRequestUrl = devin.pull_request?.url ?? outputUrl(devin.structured_output);
          if (pullRequestUrl === null && devin.structured_output === null) {
            return {
              kind: 'failed',
              reason: 'Devin finished without a pull request or structured output',
              terminate: false,
            };
          }
          return { kind: 'deployed', pullRequestUrl, structuredOutput: devin.structured_output };
        }
        case 'expired':
          return { kind: 'failed', reason: 'the Devin session expired', terminate: false };
        case 'exited':
          return {
            kind: 'failed',
            reason: `the Devin session ended without finishing (status ${devin.status})`,
            terminate: false,
          };
      }
  }
}

function outputUrl(output: Record<string, unknown> | null): string | null {
  const url = output?.pull_request_url;
  return typeof url === 'string' && url !== '' ? url : null;
}

function isoOr(timestamp: string, fallback: Date): string {
  const ms = Date.parse(timestamp);
  return new Date(Number.isNaN(ms) ? fallback.getTime() : ms).toISOString();
}
