import { type WriteStream, createWriteStream } from 'node:fs';

/**
 * The processes of a run print through `pipeLines` (processes.ts) to this process's stdout,
 * prefixed with their name: thousands of lines under faults. They go to a log file instead,
 * with the last lines of each process kept for the report; the run's own lines go to the
 * terminal (and to the file, so it reads as one story).
 */
export interface RunOutput {
  say(line: string): void;
  /** The last lines `name` printed. */
  tail(name: string): string[];
  /** Puts stdout back and closes the file. */
  restore(): Promise<void>;
}

const TAIL = 15;

export function divertProcessOutput(file: string): RunOutput {
  const stream: WriteStream = createWriteStream(file, { flags: 'a' });
  const original = process.stdout.write.bind(process.stdout);
  const tails = new Map<string, string[]>();
  const keep = (text: string) => {
    for (const line of text.split('\n')) {
      // eslint-disable-next-line no-control-regex -- pipeLines colours the name on a terminal
      const match = /^(?:\x1b\[\d+m)?([\w-]+)\s*(?:\x1b\[0m)?\|\s?(.*)$/.exec(line);
      if (!match) continue;
      const lines = tails.get(match[1]!) ?? [];
      lines.push(match[2]!);
      if (lines.length > TAIL) lines.shift();
      tails.set(match[1]!, lines);
    }
  };
  // Replaced rather than piped: pipeLines writes to process.stdout directly.
  const divert = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    keep(text);
    stream.write(text);
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    callback?.();
    return true;
  };
  process.stdout.write = divert;
  return {
    say(line) {
      original(`${line}\n`);
      stream.write(`chaos           | ${new Date().toISOString()} ${line}\n`);
    },
    tail: (name) => [...(tails.get(name) ?? [])],
    restore: () =>
      new Promise((resolve) => {
        process.stdout.write = original;
        stream.end(resolve);
      }),
  };
}
