import { type DevinSessionSummaryWire, type DevinSessionWire } from './api-schemas';
import { type Scenario } from './sandbox-scenarios';
import { type SandboxSession } from './sandbox-session';

/** `GET /v1/sessions/:id`, as Devin writes it. */
export function toWire(session: SandboxSession): Required<DevinSessionWire> {
  return {
    ...toSummary(session),
    messages: session.messages.map((m) => ({ ...m, timestamp: iso(m.timestamp) })),
  };
}

/** An entry of `GET /v1/sessions`: no messages. */
export function toSummary(session: SandboxSession): Required<DevinSessionSummaryWire> {
  return {
    session_id: session.session_id,
    status: session.status,
    status_enum: session.statusEnum,
    title: session.input.title ?? null,
    created_at: iso(session.createdAt),
    updated_at: iso(session.updatedAt),
    tags: session.input.tags ?? [],
    pull_request: session.pullRequest,
    structured_output: session.structuredOutput,
    snapshot_id: session.input.snapshot_id ?? null,
    playbook_id: session.input.playbook_id ?? null,
  };
}

export type SandboxSessionView = Required<DevinSessionWire> & {
  url: string;
  prompt: string;
  repository: string;
  scenario: Scenario;
  max_acu_limit: number | null;
  steps_left: number;
  next_step_at: string | null;
};

/** What the control API shows: the wire view plus what the sandbox plays. */
export function toView(session: SandboxSession): SandboxSessionView {
  return {
    ...toWire(session),
    url: session.url,
    prompt: session.input.prompt,
    repository: session.repository,
    scenario: session.scenario,
    max_acu_limit: session.input.max_acu_limit ?? null,
    steps_left: session.plan.length,
    next_step_at: session.nextStepAt === null ? null : iso(session.nextStepAt),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
