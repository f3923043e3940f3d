import { parseArgs } from 'node:util';
import { UsageError } from './errors';
import { type Runtime } from './runtime';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in help, e.g. `<stream>`. */
  value?: string;
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
      args: argv,
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
    throw new UsageError(
      `${parseProblem(error as Error & { code?: string }, options)} (see meetmatt ${spec.name} --help)`,
    );
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

function parseProblem(
  error: Error & { code?: string },
  options: Record<string, OptionSpec>,
): string {
  const quoted = /'(-{1,2}[^']+)'/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = /--([a-z-]+)/.exec(error.message)?.[1];
      const option = name ? options[name] : undefined;
      if (option?.type === 'string') return `--${name} needs a value ${option.value ?? '<value>'}`;
      return `--${name ?? '?'} takes no value`;
    }
    default:
      return error.message.split('\n')[0]!;
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
