#!/usr/bin/env node
// `npx meetmatt …`: runs the operator CLI (scripts/src/cli/main.ts) through tsx, in the caller's
// directory, with the caller's arguments, environment and terminal; exits with its status.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const entry = path.join(__dirname, '..', 'src', 'cli', 'main.ts');
// Resolved from here, not from the caller's directory, which may be anywhere.
const tsx = pathToFileURL(require.resolve('tsx', { paths: [__dirname] })).href;
const child = spawn(process.execPath, ['--import', tsx, entry, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
// Ctrl-C reaches the whole process group already; a supervisor's SIGTERM is passed on.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
