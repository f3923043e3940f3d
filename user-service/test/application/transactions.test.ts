import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * A transaction that, while it holds its connection (and maybe row locks), asks the pool for
 * another one starves the pool when enough of them run at once: each waits for a connection
 * that only another waiting one could give back. `/auth/refresh` did this. This pins the
 * class: inside a transaction's callback only its own client is used, never the service's
 * pool, event store or a helper that reaches them.
 */
const src = path.join(__dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** The text of each callback given to `.transaction().execute(` or an inbox's `.once(`. */
function transactionBodies(text: string): string[] {
  const bodies: string[] = [];
  const opener = /\.transaction\(\)\.execute\(|\binbox\.once\(/g;
  for (let match = opener.exec(text); match; match = opener.exec(text)) {
    let depth = 1;
    let i = match.index + match[0].length;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '(') depth++;
      else if (text[i] === ')') depth--;
    }
    bodies.push(text.slice(match.index, i));
  }
  return bodies;
}

const outsideTheTransaction = [
  /\bctx\.(db|store|passwords|limits|throttle|apiKeys|waitForProjections)\b/,
  /\bthis\.db\b/,
  /\bloadStream\(/,
  /\bloadState\(/,
  /\brunCommand\(/,
  /\bappendToStream\(/,
  /\.execute\(\s*(this\.)?db\s*\)/,
];

describe('transactions in user-service', () => {
  const found = files(src).flatMap((file) =>
    transactionBodies(readFileSync(file, 'utf8')).map((body) => ({
      file: path.relative(src, file),
      body,
    })),
  );

  test('when the sources are read, then their transactions are found (the check sees something)', () => {
    expect(found.length).toBeGreaterThanOrEqual(3);
  });

  test('when a transaction runs, then it uses only its own client, never another pool connection', () => {
    const offenders = found
      .filter(({ body }) => outsideTheTransaction.some((pattern) => pattern.test(body)))
      .map(({ file, body }) => `${file}: ${body.slice(0, 120)}…`);
    expect(offenders).toEqual([]);
  });
});
