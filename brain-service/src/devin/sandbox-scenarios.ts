/**
 * What a sandbox session does, chosen by markers in its prompt, so that a test (or a demo)
 * steers a session through the agent's instructions. The one place the markers are defined:
 *
 * | marker                  | the session…                                                      |
 * |-------------------------|-------------------------------------------------------------------|
 * | (none), `[devin:finish]`| works 3 steps, then `finished` with a pull request and output     |
 * | `[devin:finish:N]`      | works N steps, then finishes                                      |
 * | `[devin:block]`         | works, then `blocked` until a message arrives, then finishes      |
 * | `[devin:block:N]`       | blocks N times, each time until a message arrives                 |
 * | `[devin:expire]`        | works 2 steps, then `expired` (`[devin:expire:N]`: N steps)       |
 * | `[devin:never]`         | works, then stays `working` forever (deadline tests)              |
 * | `[devin:suspend]`       | passes through suspend_requested → resume_requested → resumed,    |
 * |                         | then finishes                                                     |
 * | `[devin:flaky:N]`       | the first N calls naming the session (GET, message, DELETE) are   |
 * |                         | answered 500; combines with one of the above                      |
 * | `[devin:throttle:N]`    | the same with 429 and a Retry-After header                        |
 *
 * A step is `stepMs` of the sandbox clock. A marker the sandbox does not know is a 422, so a
 * typo in a test fails loudly instead of playing the default. The pull request goes to the
 * repository named in the prompt: the first `github.com/owner/name`, else
 * `Repository: owner/name`, else `meetmatt-agents/agent-<random>`.
 */

export type Outcome = 'finish' | 'block' | 'expire' | 'never' | 'suspend';

export interface Scenario {
  outcome: Outcome;
  /** Work steps before the outcome (finish, expire). */
  workSteps: number;
  /** How many times the session blocks (block). */
  blocks: number;
  /** Calls naming the session that fail before it behaves. */
  faults: { status: 429 | 500; count: number } | null;
}

export type Step =
  | { kind: 'say'; text: string }
  | { kind: 'status'; statusEnum: string; status: string }
  | { kind: 'block'; question: string }
  | { kind: 'finish' }
  | { kind: 'expire' }
  /** Stays working with nothing left to do: the clock stops for this session. */
  | { kind: 'idle' };

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

const MARKER = /\[devin:([a-z-]+)(?::(\d+))?\]/gi;
const OUTCOMES = new Set<string>(['finish', 'block', 'expire', 'never', 'suspend']);
const MAX_COUNT = 1000;

export function parseScenario(prompt: string): Scenario {
  const scenario: Scenario = { outcome: 'finish', workSteps: 3, blocks: 1, faults: null };
  let outcome: string | undefined;
  for (const match of prompt.matchAll(MARKER)) {
    const name = (match[1] ?? '').toLowerCase();
    const count = match[2] === undefined ? undefined : Math.min(Number(match[2]), MAX_COUNT);
    if (OUTCOMES.has(name)) {
      if (outcome !== undefined && outcome !== name) {
        throw new ScenarioError(`prompt has two outcomes: [devin:${outcome}] and [devin:${name}]`);
      }
      outcome = name;
      applyOutcome(scenario, name as Outcome, count);
    } else if (name === 'flaky' || name === 'throttle') {
      scenario.faults = { status: name === 'flaky' ? 500 : 429, count: count ?? 1 };
    } else {
      throw new ScenarioError(`unknown sandbox marker [devin:${name}]`);
    }
  }
  return scenario;
}

function applyOutcome(scenario: Scenario, outcome: Outcome, count: number | undefined): void {
  scenario.outcome = outcome;
  if (outcome === 'expire') scenario.workSteps = count ?? 2;
  if (outcome === 'finish') scenario.workSteps = count ?? 3;
  if (outcome === 'block') scenario.blocks = count ?? 1;
}

export function repositoryIn(prompt: string): string | null {
  const url = /github\.com\/([\w.-]+)\/([\w.-]+)/i.exec(prompt);
  if (url?.[1] && url[2]) return `${url[1]}/${url[2].replace(/\.git$/, '').replace(/\.+$/, '')}`;
  const line = /\brepository\s*:\s*([\w.-]+)\/([\w.-]+)/i.exec(prompt);
  if (line?.[1] && line[2]) return `${line[1]}/${line[2].replace(/\.+$/, '')}`;
  return null;
}

/** The steps a session plays, one per `stepMs`, for its scenario. */
export function planFor(scenario: Scenario, repository: string): Step[] {
  const start = work(2, repository);
  switch (scenario.outcome) {
    case 'finish':
      return [...work(scenario.workSteps, repository), { kind: 'finish' }];
    case 'expire':
      return [...work(scenario.workSteps, repository), { kind: 'expire' }];
    case 'never':
      return [...start, { kind: 'say', text: 'Still working on it.' }, { kind: 'idle' }];
    case 'block':
      return [...start, ...blocks(scenario.blocks), { kind: 'finish' }];
    case 'suspend':
      return [
        ...start,
        { kind: 'status', statusEnum: 'suspend_requested', status: 'running' },
        { kind: 'status', statusEnum: 'resume_requested', status: 'suspended' },
        { kind: 'status', statusEnum: 'resumed', status: 'running' },
        { kind: 'say', text: 'Back from suspension; finishing the agent.' },
        { kind: 'finish' },
      ];
  }
}

function work(count: number, repository: string): Step[] {
  const texts = [
    'Reading the instructions and planning the agent.',
    `Cloning github.com/${repository} and setting up the environment.`,
    'Writing the agent and its tests.',
  ];
  return Array.from({ length: count }, (_, i) => ({
    kind: 'say' as const,
    text:
      texts[i] ?? `Running the test suite and fixing what fails (pass ${i - texts.length + 1}).`,
  }));
}

function blocks(count: number): Step[] {
  return Array.from({ length: count }, (_, i): Step[] => [
    {
      kind: 'block',
      question: `I need a decision before I continue (question ${i + 1} of ${count}): which model provider should the agent use?`,
    },
    { kind: 'say', text: 'Thanks, continuing with your answer.' },
  ]).flat();
}
