import { randomBytes, randomUUID } from 'node:crypto';
import { type z } from 'zod';
import { type CreateSessionRequestSchema } from './api-schemas';
import { type Scenario, type Step } from './sandbox-scenarios';
import { classifySession } from './session-phase';

export type CreateSessionInput = z.output<typeof CreateSessionRequestSchema>;

export interface SandboxMessage {
  type: 'initial_user_message' | 'user_message' | 'devin_message';
  event_id: string;
  message: string;
  /** Milliseconds on the sandbox clock; ISO on the wire. */
  timestamp: number;
  username?: string;
  origin?: string;
}

/**
 * One session as the sandbox keeps it. Its clock is lazy: nothing runs between requests;
 * `advance` plays every step whose time has come, stamped with the time it was due, so a
 * stopped sandbox leaves no timer behind and a slow poller still sees consistent history.
 * `status` is `running` while alive and `exit` once finished, expired or terminated.
 */
export interface SandboxSession {
  readonly session_id: string;
  readonly url: string;
  readonly input: CreateSessionInput;
  readonly scenario: Scenario;
  readonly repository: string;
  readonly createdAt: number;
  updatedAt: number;
  status: string;
  statusEnum: string | null;
  pullRequest: { url: string } | null;
  structuredOutput: Record<string, unknown> | null;
  messages: SandboxMessage[];
  /** Steps still to play; `nextStepAt` is null while the session waits (blocked, paused, over). */
  plan: Step[];
  nextStepAt: number | null;
  /** Calls naming this session still to be failed (from `[devin:flaky:N]`/`[devin:throttle:N]`). */
  faultsLeft: number;
}

export interface SessionClock {
  stepMs: number;
  /** The pull request a finishing session reports, numbered per repository. */
  pullRequestUrl(repository: string): string;
}

export type Delivery = { delivered: true } | { delivered: false; detail: string };

export interface StatusChange {
  status_enum?: string | null;
  status?: string;
}

export function newSession(
  input: CreateSessionInput,
  scenario: Scenario,
  plan: Step[],
  repository: string,
  now: number,
  stepMs: number,
): SandboxSession {
  const hex = randomBytes(16).toString('hex');
  const session: SandboxSession = {
    session_id: `devin-${hex}`,
    url: `https://app.devin.ai/sessions/${hex}`,
    input,
    scenario,
    repository,
    createdAt: now,
    updatedAt: now,
    status: 'running',
    statusEnum: 'working',
    pullRequest: null,
    structuredOutput: null,
    messages: [],
    plan,
    nextStepAt: plan.length > 0 ? now + stepMs : null,
    faultsLeft: scenario.faults?.count ?? 0,
  };
  addMessage(session, 'initial_user_message', input.prompt, now, 'meetmatt');
  return session;
}

export function isOver(session: SandboxSession): boolean {
  return phaseOf(session) === 'final';
}

/** Plays every step due by `now`. */
export function advance(session: SandboxSession, now: number, clock: SessionClock): void {
  while (session.nextStepAt !== null && session.nextStepAt <= now) {
    const at = session.nextStepAt;
    const step = session.plan.shift();
    if (step) play(session, step, at, clock);
    session.updatedAt = at;
    const goesOn = phaseOf(session) === 'working' && session.plan.length > 0;
    session.nextStepAt = goesOn ? at + clock.stepMs : null;
  }
}

function play(session: SandboxSession, step: Step, at: number, clock: SessionClock): void {
  switch (step.kind) {
    case 'say':
      addMessage(session, 'devin_message', step.text, at);
      return;
    case 'status':
      session.statusEnum = step.statusEnum;
      session.status = step.status;
      return;
    case 'block':
      addMessage(session, 'devin_message', step.question, at);
      session.statusEnum = 'blocked';
      return;
    case 'finish':
      finish(session, at, clock);
      return;
    case 'expire':
      addMessage(session, 'devin_message', 'This session expired before the work was done.', at);
      session.statusEnum = 'expired';
      session.status = 'exit';
      return;
    case 'idle':
      session.plan = [];
      return;
  }
}

function finish(session: SandboxSession, at: number, clock: SessionClock): void {
  if (!session.pullRequest) {
    const url = clock.pullRequestUrl(session.repository);
    session.pullRequest = { url };
    session.structuredOutput = {
      repository: session.repository,
      pull_request_url: url,
      branch: `devin/${session.createdAt}-meetmatt-agent`,
      summary: `Built the agent described in the instructions; the pull request is on ${session.repository}.`,
      tests_passed: true,
    };
    addMessage(session, 'devin_message', `I opened a pull request: ${url}`, at);
  }
  session.statusEnum = 'finished';
  session.status = 'exit';
  session.plan = [];
}

/** A user message: recorded, and it resumes a blocked session. Over sessions refuse it. */
export function deliverMessage(
  session: SandboxSession,
  text: string,
  now: number,
  clock: SessionClock,
): Delivery {
  if (isOver(session)) {
    return {
      delivered: false,
      detail: `Session ${session.session_id} has exited; the message was not delivered`,
    };
  }
  addMessage(session, 'user_message', text, now, 'meetmatt');
  session.updatedAt = now;
  if (phaseOf(session) === 'blocked') {
    session.statusEnum = 'working';
    session.status = 'running';
    if (session.plan.length === 0) session.plan.push({ kind: 'finish' });
    session.nextStepAt = now + clock.stepMs;
  }
  return { delivered: true };
}

/** False when the session had already exited. `status_enum` is left as it was, as Devin may. */
export function terminateSession(session: SandboxSession, now: number): boolean {
  if (isOver(session)) return false;
  session.status = 'exit';
  session.plan = [];
  session.nextStepAt = null;
  session.updatedAt = now;
  return true;
}

/**
 * Puts a session in a status by hand (tests, demos). Final statuses end the script (a forced
 * `finished` gets its pull request), `blocked` waits for a message and then resumes the
 * script, `working`/`resumed` resume it, and anything else pauses it until forced again.
 */
export function forceStatus(
  session: SandboxSession,
  change: StatusChange,
  now: number,
  clock: SessionClock,
): void {
  if (change.status_enum !== undefined) session.statusEnum = change.status_enum;
  session.status = change.status ?? defaultStatus(session.statusEnum);
  session.updatedAt = now;
  const phase = phaseOf(session);
  if (phase === 'final') {
    if (session.statusEnum === 'finished') {
      finish(session, now, clock);
      session.status = change.status ?? 'exit';
    }
    session.plan = [];
    session.nextStepAt = null;
  } else if (session.statusEnum === 'working' || session.statusEnum === 'resumed') {
    session.nextStepAt = session.plan.length > 0 ? now + clock.stepMs : null;
  } else {
    session.nextStepAt = null;
  }
}

function defaultStatus(statusEnum: string | null): string {
  if (statusEnum === 'finished' || statusEnum === 'expired') return 'exit';
  return statusEnum === 'resume_requested' ? 'suspended' : 'running';
}

function phaseOf(session: SandboxSession): 'final' | 'blocked' | 'working' {
  return classifySession({ status: session.status, status_enum: session.statusEnum }).phase;
}

function addMessage(
  session: SandboxSession,
  type: SandboxMessage['type'],
  message: string,
  at: number,
  username?: string,
): void {
  session.messages.push({
    type,
    event_id: randomUUID(),
    message,
    timestamp: at,
    ...(username ? { username, origin: 'api' } : {}),
  });
}
