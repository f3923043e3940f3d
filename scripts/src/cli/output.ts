import { createInterface } from 'node:readline';
import { type Column, renderTable } from './table';
import { DeclinedError, CliError } from './errors';
import { displayWidth, padEndToWidth } from './width';

export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/**
 * Everything the CLI shows. Results go to stdout (a table, or JSON with `--json`); progress,
 * notes and prompts go to stderr, so `meetmatt … --json | jq` only ever sees the result.
 * A terminal gets a redrawn progress bar, bold headers and tables cut to its width; a pipe gets
 * plain lines and nothing cut.
 */
export class Output {
  readonly json: boolean;
  private readonly color: boolean;

  constructor(
    readonly streams: Streams,
    options: { json: boolean; env: NodeJS.ProcessEnv },
  ) {
    this.json = options.json;
    this.color = colorWanted(options.env, Boolean(streams.stdout.isTTY));
  }

  get interactive(): boolean {
    return Boolean(this.streams.stdout.isTTY);
  }

  line(text = ''): void {
    this.streams.stdout.write(`${text}\n`);
  }

  /** A remark beside the result (stderr); left out with --json, where only data is wanted. */
  note(text: string): void {
    if (!this.json) this.streams.stderr.write(`${text}\n`);
  }

  /** A remark that matters even with --json (stderr). */
  warn(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
  }

  /** One JSON value per line (NDJSON), for streams of results such as `streams tail`. */
  printJsonLine(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
  }

  table<T>(columns: readonly Column<T>[], rows: readonly T[]): void {
    const lines = renderTable(columns, rows, {
      width: this.interactive ? (this.streams.stdout.columns ?? 120) : undefined,
      header: (text) => this.bold(text),
    });
    for (const text of lines) this.line(text);
  }

  /** `key  value` lines, keys aligned. */
  fields(pairs: readonly (readonly [string, string])[]): void {
    const width = Math.max(...pairs.map(([k]) => displayWidth(k)));
    for (const [key, value] of pairs)
      this.line(`${this.bold(padEndToWidth(key, width))}  ${value}`);
  }

  bold(text: string): string {
    return this.color ? `\x1b[1m${text}\x1b[22m` : text;
  }

  dim(text: string): string {
    return this.color ? `\x1b[2m${text}\x1b[22m` : text;
  }

  progress(title: string): Progress {
    const mode = this.json ? 'off' : this.streams.stderr.isTTY ? 'bar' : 'lines';
    return new Progress(this.streams.stderr, mode, title);
  }

  /**
   * Asks before a change. `--yes` answers for the operator; without it, a prompt on the terminal,
   * and a refusal when there is no terminal to ask on (a script must say --yes explicitly).
   */
  async confirm(question: string, yes: boolean): Promise<void> {
    if (yes) return;
    const { stdin, stderr } = this.streams;
    if (!stdin.isTTY)
      throw new CliError(`${question} Refusing without --yes: stdin is not a terminal.`);
    const rl = createInterface({ input: stdin, output: stderr, terminal: true });
    const answer = await new Promise<string>((resolve) => {
      rl.once('close', () => resolve(''));
      rl.question(`${question} [y/N] `, resolve);
    });
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) throw new DeclinedError();
  }
}

/**
 * Colour on a terminal, off in a pipe, unless asked otherwise: FORCE_COLOR (any value but 0 or
 * false, as in Node and chalk) turns it on even in a pipe; NO_COLOR (any non-empty value,
 * no-color.org) turns it off and wins over FORCE_COLOR only when FORCE_COLOR is unset.
 */
export function colorWanted(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  if (env.NO_COLOR) return false;
  if (env.TERM === 'dumb') return false;
  return isTTY;
}

/** BigInts (positions) as strings, Dates as ISO: the JSON an operator can feed back in. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  return value;
}

type ProgressMode = 'bar' | 'lines' | 'off';

const BAR_WIDTH = 24;
const REDRAW_MS = 100;
const LINE_EVERY_MS = 2_000;

/**
 * A progress report on stderr: a bar redrawn in place on a terminal; on a pipe a plain line at
 * most every two seconds (and always the last one), so a log file stays readable.
 */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly stream: Streams['stderr'],
    private readonly mode: ProgressMode,
    private readonly title: string,
  ) {}

  /** `fraction` between 0 and 1, or undefined when the total is unknown. */
  update(fraction: number | undefined, detail: string, force = false): void {
    if (this.mode === 'off') return;
    const now = Date.now();
    const every = this.mode === 'bar' ? REDRAW_MS : LINE_EVERY_MS;
    // A log gets lines only from work that lasts: a short job's result line says it all.
    if (this.mode === 'lines' && !this.drawn && now - this.started < LINE_EVERY_MS) return;
    if (!force && this.drawn && now - this.lastDraw < every) return;
    this.lastDraw = now;
    this.drawn = true;
    if (this.mode === 'bar') {
      const width = this.stream.columns ?? 100;
      const text = `${this.title} ${bar(fraction)} ${percent(fraction)}  ${detail}`;
      this.stream.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
    } else {
      this.stream.write(`${this.title}: ${percent(fraction).trim()}, ${detail}\n`);
    }
  }

  /** The final state, always shown, ending the bar's line. */
  done(detail: string, fraction: number | undefined = 1): void {
    if (this.mode === 'off' || (this.mode === 'lines' && !this.drawn)) return;
    this.update(fraction, detail, true);
    if (this.mode === 'bar') this.stream.write('\n');
  }

  /** Ends the bar's line without a final state (the work stopped). */
  interrupt(): void {
    if (this.mode === 'bar' && this.drawn) this.stream.write('\n');
  }
}

function bar(fraction: number | undefined): string {
  if (fraction === undefined) return `[${'·'.repeat(BAR_WIDTH)}]`;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]`;
}

function percent(fraction: number | undefined): string {
  if (fraction === undefined) return '  ?%';
  return `${Math.floor(Math.min(1, Math.max(0, fraction)) * 100)}%`.padStart(4);
}
