import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type CommandSpec, commandHelp, commandUsage, parseInvocation } from './command';
import { commands } from './commands';
import { completionScript } from './completion';
import { CliError, DeclinedError, UsageError, describeError } from './errors';
import { closest } from './suggest';
import { Output, type Streams } from './output';
import { type Runtime } from './runtime';

const groups = [...new Set(commands.map((c) => c.name.split(' ')[0]!))];

function topHelp(): string {
  const width = Math.max(...commands.map((c) => commandUsage(c).length)) - ' [options]'.length;
  const lines = [
    'meetmatt: look into event streams, trace journeys, rebuild projections, republish events,',
    'drain dead letters and reconcile payments, straight against the services’ databases,',
    'event stores and RabbitMQ (configured like npm start: POSTGRES_URL, <SERVICE>_DATABASE_URL,',
    'RABBITMQ_URL, EVENTSTORE_URL).',
    '',
    'Usage: meetmatt <command> [options]',
    '',
    'Commands:',
  ];
  for (const c of commands) {
    const usage = commandUsage(c).replace(/ \[options\]$/, '');
    lines.push(`  ${usage.padEnd(width)}  ${c.summary}`);
  }
  lines.push(
    `  ${'meetmatt completion <bash|zsh>'.padEnd(width)}  Print a shell completion script (source <(meetmatt completion bash))`,
    '',
    'Every command takes --json (machine-readable output) and --help (options and examples).',
    'Commands that change something ask first; --yes answers for you, --dry-run changes nothing.',
    'Exit status: 0 done, 1 failed (one line on stderr says why), 2 the command line is wrong.',
    'meetmatt --version prints the version. NO_COLOR=1 turns colour off, FORCE_COLOR=1 on.',
  );
  return lines.join('\n');
}

function groupHelp(group: string): string {
  const members = commands.filter((c) => c.name.split(' ')[0] === group);
  const width = Math.max(...members.map((c) => c.name.length));
  return [
    `Usage: meetmatt ${group} <${members.map((c) => c.name.split(' ')[1]).join('|')}> [options]`,
    '',
    ...members.map((c) => `  meetmatt ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run meetmatt ${group} <command> --help for its options and examples.`,
  ].join('\n');
}

/** Finds the command named by the leading words of argv. */
function resolve(argv: string[]): { spec: CommandSpec; rest: string[] } | { help: string } {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? argv.slice(1) : [];
    if (topic.length > 0) return resolveHelp(topic);
    return { help: topHelp() };
  }
  if (!groups.includes(first)) {
    const guess = closest(first, [...groups, 'completion', 'help']);
    if (first.startsWith('-')) {
      const flag = closest(first, ['--help', '--version']);
      throw new UsageError(
        `unknown option ${first}${flag ? `; did you mean ${flag}?` : ''} (see meetmatt --help)`,
        flag,
      );
    }
    throw new UsageError(
      `unknown command ${JSON.stringify(first)}${guess ? `; did you mean ${guess}?` : ''} (see meetmatt --help)`,
      guess,
    );
  }
  const single = commands.find((c) => c.name === first);
  if (single) return { spec: single, rest: argv.slice(1) };
  if (second === undefined || second === '--help' || second === '-h') {
    if (second === undefined)
      throw new UsageError(
        `meetmatt ${first} needs a command: ${subcommands(first)} (see meetmatt ${first} --help)`,
      );
    return { help: groupHelp(first) };
  }
  const spec = commands.find((c) => c.name === `${first} ${second}`);
  if (!spec) {
    const members = commands
      .filter((c) => c.name.startsWith(`${first} `))
      .map((c) => c.name.split(' ')[1]!);
    const guess = closest(second, members);
    throw new UsageError(
      guess
        ? `unknown command "${first} ${second}"; did you mean ${first} ${guess}?`
        : `unknown command "${first} ${second}"; expected ${subcommands(first)}`,
      guess && `${first} ${guess}`,
    );
  }
  return { spec, rest: argv.slice(2) };
}

function resolveHelp(topic: string[]): { help: string } {
  const name = topic.join(' ');
  const spec = commands.find((c) => c.name === name);
  if (spec) return { help: commandHelp(spec) };
  if (groups.includes(name)) return { help: groupHelp(name) };
  throw new UsageError(`no help for ${JSON.stringify(name)} (see meetmatt --help)`);
}

function subcommands(group: string): string {
  return commands
    .filter((c) => c.name.startsWith(`${group} `))
    .map((c) => c.name.split(' ')[1])
    .join(', ');
}

/** scripts/package.json's version: one number for the CLI and the workspace it ships in. */
export function cliVersion(): string {
  const file = path.join(__dirname, '..', '..', 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** `--json` asked for before any `--` (after it, words are arguments, not options). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

type ErrorKind = 'usage' | 'declined' | 'interrupted' | 'failed';

export interface CliProcess {
  streams: Streams;
  env: NodeJS.ProcessEnv;
  /** Aborted when the operator presses Ctrl-C. */
  signal: AbortSignal;
}

/** Runs one command line; resolves with the exit status. Never throws. */
export async function runCli(argv: string[], proc: CliProcess): Promise<number> {
  let runtime: Runtime | undefined;
  try {
    if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
      proc.streams.stdout.write(
        wantsJson(argv)
          ? `${JSON.stringify({ version: cliVersion() })}\n`
          : `meetmatt ${cliVersion()}\n`,
      );
      return 0;
    }
    if (argv[0] === 'completion') {
      if (argv[1] === '--help' || argv[1] === '-h') {
        proc.streams.stdout.write(
          'Usage: meetmatt completion <bash|zsh>\n\nPrints a completion script generated from the command table.\n\nExamples:\n  source <(meetmatt completion bash)\n  meetmatt completion zsh > "${fpath[1]}/_meetmatt"\n',
        );
        return 0;
      }
      if (argv.length > 2) throw new UsageError(`unexpected argument ${JSON.stringify(argv[2])}`);
      proc.streams.stdout.write(completionScript(argv[1] ?? '', commands));
      return 0;
    }
    const resolved = resolve(argv);
    if ('help' in resolved) {
      proc.streams.stdout.write(`${resolved.help}\n`);
      return 0;
    }
    const { spec, rest } = resolved;
    const invocation = parseInvocation(spec, rest);
    if (invocation.help) {
      proc.streams.stdout.write(`${commandHelp(spec)}\n`);
      return 0;
    }
    const out = new Output(proc.streams, { json: invocation.json, env: proc.env });
    // Loaded here, not above: --help and usage errors never pay for the database and broker code.
    const { Runtime: RuntimeClass } = await import('./runtime.js');
    runtime = new RuntimeClass(proc.env, out, proc.signal);
    await spec.run(runtime, invocation);
    return 0;
  } catch (error) {
    const aborted = proc.signal.aborted && !(error instanceof CliError);
    const line = aborted ? 'interrupted' : describeError(error);
    const exitCode = error instanceof CliError ? error.exitCode : aborted ? 130 : 1;
    if (wantsJson(argv)) {
      // A script that asked for JSON parses the failure too; still on stderr, so stdout holds
      // only results and `… --json | jq` never mistakes an error for one.
      const kind: ErrorKind =
        error instanceof UsageError
          ? 'usage'
          : error instanceof DeclinedError
            ? 'declined'
            : aborted
              ? 'interrupted'
              : 'failed';
      const suggestion = error instanceof UsageError ? error.suggestion : undefined;
      const body = {
        error: { kind, message: line, exitCode, ...(suggestion ? { suggestion } : {}) },
      };
      proc.streams.stderr.write(`${JSON.stringify(body)}\n`);
    } else proc.streams.stderr.write(`error: ${line}\n`);
    return exitCode;
  } finally {
    await runtime?.close();
  }
}
