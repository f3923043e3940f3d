import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A Dockerfile as a builder reads it for given build arguments, without a Docker engine: each
 * stage's instructions with the builder's own variable substitution applied where it applies
 * (not RUN or CMD: their shell expands, with the ARG and ENV variables in scope as its
 * environment, which each instruction carries). `${X:?message}` fails as BuildKit's does, with
 * `X: message`, before any instruction would run.
 */

export const root = path.resolve(__dirname, '..', '..', '..');

/** The Dockerfile the three services are built from (with --build-arg SERVICE and PORT). */
export const SERVICE_DOCKERFILE = 'Dockerfile';

export interface Instruction {
  keyword: string;
  /** The arguments, substituted when the builder substitutes for this instruction. */
  args: string;
  /** The ARG and ENV variables in scope: what a RUN's shell sees. */
  env: Record<string, string>;
}

export interface Stage {
  from: string;
  instructions: Instruction[];
}

/** The instructions BuildKit substitutes variables in (the Dockerfile reference's list). */
const SUBSTITUTED = new Set([
  'ADD',
  'COPY',
  'ENV',
  'EXPOSE',
  'FROM',
  'LABEL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
  'ARG',
]);

/** `$X`, `${X}`, `${X:-w}`, `${X-w}`, `${X:+w}`, `${X+w}`, `${X:?w}`, `${X?w}`; others throw. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(
    /\\\$|\$\{([^}]*)\}|\$([A-Za-z_]\w*)/g,
    (match, braced?: string, bare?: string) => {
      if (match === '\\$') return '$';
      if (bare !== undefined) return vars[bare] ?? '';
      const form = /^([A-Za-z_]\w*)(?:(:?[-+?])([^$]*))?$/.exec(braced ?? '');
      if (!form) throw new Error(`unsupported substitution ${match}`);
      const [, name = '', operator, word = ''] = form;
      const value = vars[name];
      const set = operator?.startsWith(':') ? Boolean(value) : value !== undefined;
      switch (operator?.replace(':', '')) {
        case undefined:
          return value ?? '';
        case '-':
          return set ? value! : word;
        case '+':
          return set ? word : '';
        default: // '?'
          if (!set)
            throw new Error(
              `${name}: ${word || (value === undefined ? 'is not allowed to be unset' : 'is not allowed to be empty')}`,
            );
          return value!;
      }
    },
  );
}

/** `K=V K2="V 2"` pairs (ENV, ARG, LABEL), quotes removed. */
export function pairs(text: string): [string, string][] {
  return [...text.matchAll(/([\w.-]+)=("([^"]*)"|\S*)/g)].map((m) => [m[1]!, m[3] ?? m[2]!]);
}

/** The Dockerfile's stages for these build arguments; throws where a builder would stop. */
export function dockerfileStages(
  file: string,
  buildArgs: Record<string, string | undefined>,
): Stage[] {
  const text = readFileSync(path.join(root, file), 'utf8').replace(/\\\n\s*/g, '');
  const stages: Stage[] = [];
  const globalArgs: Record<string, string> = {};
  let vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [, keyword = '', raw = ''] = /^(\S+)\s*(.*)$/.exec(trimmed)!;
    const upper = keyword.toUpperCase();
    const args = SUBSTITUTED.has(upper)
      ? substitute(raw, upper === 'FROM' || !stages.length ? globalArgs : vars)
      : raw;
    if (upper === 'FROM') {
      stages.push({ from: args, instructions: [] });
      vars = {};
      continue;
    }
    if (upper === 'ARG') {
      // ARG X takes the build argument, else its default; a global one re-declared keeps its value.
      const [name = '', fallback] = args.includes('=') ? pairs(args)[0]! : [args, undefined];
      const value = buildArgs[name] ?? (stages.length ? (fallback ?? globalArgs[name]) : fallback);
      if (value !== undefined) (stages.length ? vars : globalArgs)[name] = value;
    } else if (upper === 'ENV') {
      for (const [name, value] of pairs(args)) vars[name] = value;
    }
    stages.at(-1)?.instructions.push({ keyword: upper, args, env: { ...vars } });
  }
  return stages;
}

/** The environment a container of this stage starts with: its ENV, not its ARG, variables. */
export function containerEnv(stage: Stage): Record<string, string> {
  return Object.fromEntries(instructionsOf(stage, 'ENV').flatMap((i) => pairs(i.args)));
}

/** The instructions of a stage with this keyword. */
export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** The argv a shell-form command runs with: `sh` expands it with the instruction's variables. */
export function shellArgv(instruction: Instruction): string[] {
  const result = spawnSync('sh', ['-c', `printf '%s\\0' ${instruction.args}`], {
    env: { PATH: process.env.PATH ?? '', ...instruction.env },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(result.stderr.trim());
  return result.stdout.split('\0').slice(0, -1);
}

/** The `--build-arg K=V` pairs of a docker build command line. */
export function buildArgsOf(commandLine: string): Record<string, string> {
  return Object.fromEntries(
    [...commandLine.matchAll(/--build-arg\s+(\w+)=(\S*)/g)].map((m) => [m[1]!, m[2]!]),
  );
}
