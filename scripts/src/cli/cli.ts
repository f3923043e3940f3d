import { type CommandSpec, commandHelp, commandUsage, parseInvocation } from './command';
import { commands } from './commands';
import { CliError, UsageError, describeError } from './errors';
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
    '',
    'Every command takes --json (machine-readable output) and --help (options and examples).',
    'Commands that change something ask first; --yes answers for you, --dry-run changes nothing.',
    'Exit status: 0 done, 1 failed (one line on stderr says why), 2 the command line is wrong.',
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
    throw new UsageError(`unknown command ${JSON.stringify(first)} (see meetmatt --help)`);
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
  if (!spec)
    throw new UsageError(`unknown command "${first} ${second}"; expected ${subcommands(first)}`);
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
    proc.streams.stderr.write(`error: ${line}\n`);
    return error instanceof CliError ? error.exitCode : aborted ? 130 : 1;
  } finally {
    await runtime?.close();
  }
}
