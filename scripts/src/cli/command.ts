import { parseArgs } from 'node:util';
import { UsageError } from './errors';
import { closest } from './suggest';
import { type Runtime } from './runtime';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in help, e.g. `<stream>`. */
  value?: string;
  /** The only values it takes, offered by shell completion. */
  choices?: readonly string[];
  description: string;
}

export interface ArgumentSpec {
  name: string;
  description: string;
  optional?: boolean;
}

export type Values = Record<string, string | boolean | undefined>;

export interface Invocation {
  /** Positional arguments, in the order the spec names them. */
  args: string[];
  values: Values;
  json: boolean;
  yes: boolean;
  dryRun: boolean;
}

export interface CommandSpec {
  /** `streams list`, `trace`, … */
  name: string;
  summary: string;
  /** A paragraph for `--help`. */
  description?: string;
  args?: ArgumentSpec[];
  options?: Record<string, OptionSpec>;
  /** Adds `--yes` and `--dry-run`: the command changes something. */
  changesState?: boolean;
  examples: string[];
  run(runtime: Runtime, invocation: Invocation): Promise<void>;
}

const commonOptions: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'Print machine-readable JSON instead of a table' },
  help: { type: 'boolean', short: 'h', description: 'Show this help' },
};

const stateOptions: Record<string, OptionSpec> = {
  yes: {
    type: 'boolean',
    short: 'y',
    description: 'Do it without asking (needed when stdin is not a terminal)',
  },
  'dry-run': { type: 'boolean', description: 'Show what would happen; change nothing' },
};

export function optionsOf(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...spec.options, ...(spec.changesState ? stateOptions : {}), ...commonOptions };
}

/** Parses a command's arguments with util.parseArgs; any mistake is one UsageError line. */
export function parseInvocation(spec: CommandSpec, argv: string[]): Invocation & { help: boolean } {
  const options = optionsOf(spec);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: attachDashValues(argv, options),
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          { type: o.type, ...(o.short ? { short: o.short } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const problem = parseProblem(error as Error & { code?: string }, options);
    throw new UsageError(`${problem.text} (see meetmatt ${spec.name} --help)`, problem.suggestion);
  }
  const values = parsed.values as Values;
  const help = values.help === true;
  const specArgs = spec.args ?? [];
  if (!help) {
    const required = specArgs.filter((a) => !a.optional).length;
    if (parsed.positionals.length < required) {
      const missing = specArgs[parsed.positionals.length]!;
      throw new UsageError(
        `meetmatt ${spec.name} needs <${missing.name}> (see meetmatt ${spec.name} --help)`,
      );
    }
    if (parsed.positionals.length > specArgs.length) {
      throw new UsageError(
        `unexpected argument ${JSON.stringify(parsed.positionals[specArgs.length])} (see meetmatt ${spec.name} --help)`,
      );
    }
  }
  return {
    args: parsed.positionals,
    values,
    json: values.json === true,
    yes: values.yes === true,
    dryRun: values['dry-run'] === true,
    help,
  };
}

/**
 * `--limit -3` and `-n -3`: util.parseArgs refuses a value that starts with a dash (it might be
 * a forgotten value followed by another option). A dash followed by a digit is no option of
 * ours, so it is taken as the value, and the option's own check says what is wrong with it.
 */
function attachDashValues(argv: string[], options: Record<string, OptionSpec>): string[] {
  const byShort = new Map(
    Object.entries(options)
      .filter(([, o]) => o.short)
      .map(([name, o]) => [o.short!, name]),
  );
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = token.startsWith('--')
      ? token.slice(2)
      : /^-[a-zA-Z]$/.test(token)
        ? byShort.get(token.slice(1))
        : undefined;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`--${name}=${next}`);
      i += 1;
    } else out.push(token);
  }
  return out;
}

function parseProblem(
  error: Error & { code?: string },
  options: Record<string, OptionSpec>,
): { text: string; suggestion?: string } {
  const quoted = /'(-{1,2}[^']+)'/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const unknown = quoted ?? '';
      const known = Object.keys(options).map((name) => `--${name}`);
      const guess = unknown.startsWith('--') ? closest(unknown.split('=')[0]!, known) : undefined;
      return guess
        ? { text: `unknown option ${unknown}; did you mean ${guess}?`, suggestion: guess }
        : { text: `unknown option ${unknown}`.trim() };
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = /--([a-z-]+)/.exec(error.message)?.[1];
      const option = name ? options[name] : undefined;
      if (option?.type === 'string')
        return { text: `--${name} needs a value ${option.value ?? '<value>'}` };
      return { text: `--${name ?? '?'} takes no value` };
    }
    default:
      return { text: error.message.split('\n')[0]! };
  }
}

export function commandUsage(spec: CommandSpec): string {
  const args = (spec.args ?? []).map((a) => (a.optional ? `[<${a.name}>]` : `<${a.name}>`));
  return ['meetmatt', spec.name, ...args, '[options]'].join(' ');
}

export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${commandUsage(spec)}`, '', spec.summary];
  if (spec.description) lines.push('', ...wrap(spec.description, 92));
  const args = spec.args ?? [];
  if (args.length > 0) {
    lines.push('', 'Arguments:');
    const width = Math.max(...args.map((a) => a.name.length + 2));
    for (const a of args) lines.push(`  ${`<${a.name}>`.padEnd(width)}  ${a.description}`);
  }
  const options = optionsOf(spec);
  const labels = Object.entries(options).map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : '    ';
    const value = o.type === 'string' ? ` ${o.value ?? '<value>'}` : '';
    return [`${short}--${name}${value}`, o.description] as const;
  });
  const width = Math.max(...labels.map(([l]) => l.length));
  lines.push('', 'Options:');
  for (const [label, text] of labels) lines.push(`  ${label.padEnd(width)}  ${text}`);
  lines.push('', 'Examples:');
  for (const example of spec.examples) lines.push(`  ${example}`);
  return lines.join('\n');
}

/** Breaks a paragraph into lines of at most `width` characters, at spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
