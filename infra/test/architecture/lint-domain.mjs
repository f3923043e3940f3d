// Run in a fresh process by domain-purity.test.ts: lints the snippets it is given (JSON on stdin,
// `{ filename, code }[]`) with the `domain-purity` block of eslint.config.mjs, and prints the
// rule ids and messages reported for each.
import { readFileSync } from 'node:fs';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import config from '../../../eslint.config.mjs';

const root = new URL('../../../', import.meta.url).pathname;
const block = config.find((entry) => entry.name === 'domain-purity');
if (!block) throw new Error('eslint.config.mjs has no block named domain-purity');
const snippets = JSON.parse(readFileSync(0, 'utf8'));
const linter = new Linter({ cwd: root });
const results = snippets.map(({ filename, code }) =>
  linter
    .verify(code, [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, block], {
      filename: root + filename,
    })
    .map((message) => `${message.ruleId}: ${message.message}`),
);
process.stdout.write(JSON.stringify({ files: block.files, results }));
