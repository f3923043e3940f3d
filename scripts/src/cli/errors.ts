/** A failure the operator can act on; its message is the one line the CLI prints. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The command line itself is wrong (unknown command, bad flag, missing argument): exit 2. */
export class UsageError extends CliError {
  constructor(
    message: string,
    /** The command or option the operator probably meant, for `--json` errors. */
    readonly suggestion?: string,
  ) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** The operator answered no (or was not asked because nobody can answer). */
export class DeclinedError extends CliError {
  constructor(message = 'cancelled; nothing was changed') {
    super(message, 1);
    this.name = 'DeclinedError';
  }
}

/** Node's network errors, PostgreSQL's SQLSTATEs and amqplib's messages, in operator words. */
export function describeError(error: unknown): string {
  // ConfigError (infra) is matched by name: this module stays free of heavy imports for --help.
  if (error instanceof CliError || (error instanceof Error && error.name === 'ConfigError'))
    return oneLine(error.message);
  const cause = firstCause(error);
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (typeof code === 'string') {
    const address = (cause as { address?: string; port?: number }).address;
    const port = (cause as { port?: number }).port;
    const where = address ? ` (${address}${port ? `:${port}` : ''})` : '';
    if (code === 'ECONNREFUSED') return `connection refused${where}`;
    if (code === 'ENOTFOUND')
      return `host not found: ${(cause as { hostname?: string }).hostname ?? message}`;
    if (code === 'ETIMEDOUT') return `connection timed out${where}`;
    if (code === '3D000') return oneLine(message);
    if (code === '28P01' || code === '28000') return `authentication failed: ${oneLine(message)}`;
  }
  return oneLine(message || String(error));
}

function firstCause(error: unknown): unknown {
  // Node 20 reports a refused connection to a name with several addresses as an AggregateError
  // whose own message is empty.
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors[0];
  return error;
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
