import { type CreateSessionRequest } from '../devin';
import { type Agent } from '../domain/agent';

/** What Devin reports when done; the sandbox fills these fields too. */
export const agentBuildOutputSchema = {
  type: 'object',
  properties: {
    repository: { type: 'string', description: 'owner/name the agent was built in' },
    pull_request_url: { type: 'string', description: 'The pull request with the agent' },
    branch: { type: 'string' },
    summary: { type: 'string', description: 'What was built, in a few sentences' },
    tests_passed: { type: 'boolean' },
  },
  required: ['repository', 'pull_request_url', 'summary'],
} as const;

/**
 * The Devin session for one attempt of one build of an agent. Everything in it derives from the
 * agent's recorded state, so asking again after a crash sends the same request, which
 * `idempotent: true` answers with the same session; prompt and title both name the attempt
 * (Devin does not document what its idempotency keys on), so the retry after a failure gets a
 * fresh one.
 */
export function sessionRequestFor(agent: Agent, maxAcuLimit: number): CreateSessionRequest {
  return {
    prompt: promptFor(agent),
    idempotent: true,
    title: `Meet Matt agent "${agent.name}" (${agent.agentId}), build ${agent.build}, attempt ${agent.attempt}`,
    tags: [
      'meetmatt',
      `agent:${agent.agentId}`,
      `plan:${agent.plan}`,
      `build:${agent.build}`,
      `attempt:${agent.attempt}`,
    ],
    max_acu_limit: maxAcuLimit,
    structured_output_schema: agentBuildOutputSchema,
  };
}

/** The repository comes before the customer's text, so a URL in their instructions never wins. */
export function promptFor(agent: Agent): string {
  return [
    `Build the AI agent "${agent.name}" that a Meet Matt customer ordered (agent ${agent.agentId}, build ${agent.build}, attempt ${agent.attempt}).`,
    '',
    `Repository: ${agent.repository} (https://github.com/${agent.repository})`,
    'Work on a new branch of that repository and open a pull request with the agent, its tests and a README explaining how to run it.',
    '',
    "The customer's instructions:",
    agent.instructions,
    '',
    'When you are done, report the repository, the pull request URL, the branch, a short summary and whether the tests passed in the structured output.',
  ].join('\n');
}
