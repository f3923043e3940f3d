#!/usr/bin/env node
// The entry point of `npm start`, `npm test`, `npm run test:unit`, `npm run bench` and friends.
// Plain Node.js with no dependencies, because on a fresh clone nothing is installed yet: it
// installs what is missing, then runs the TypeScript command through tsx.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const [command = 'start', ...args] = process.argv.slice(2);
const commands = new Set([
  'start',
  'test',
  'unit',
  'bench',
  'demo',
  'chaos',
  'meetmatt',
  'install',
]);

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  fail(`Node.js 20.19 or newer is needed (this is ${process.versions.node}).`);
}
if (!commands.has(command))
  fail(`unknown command "${command}"; expected one of ${[...commands].join(', ')}`);

function installed() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (!fs.existsSync(marker) || !fs.existsSync(path.join(root, 'node_modules', 'tsx')))
    return false;
  return !fs.existsSync(lock) || fs.statSync(marker).mtimeMs >= fs.statSync(lock).mtimeMs;
}

if (!installed()) {
  const ci = fs.existsSync(path.join(root, 'package-lock.json'));
  process.stderr.write(`Installing dependencies (npm ${ci ? 'ci' : 'install'})...\n`);
  const result = spawnSync('npm', [ci ? 'ci' : 'install', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) fail('Installing dependencies failed; see the npm output above.');
}
if (command === 'install') process.exit(0);

const entry = command === 'meetmatt' ? 'cli/main.ts' : `${command}.ts`;
// The unit tests prepare nothing (no servers), so they go straight to jest.
const argv =
  command === 'unit'
    ? [
        path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
        '--config',
        path.join(root, 'jest.unit.config.js'),
        ...args,
      ]
    : ['--import', 'tsx', path.join(root, 'scripts', 'src', entry), ...args];
const child = spawn(process.execPath, argv, {
  cwd: process.env.INIT_CWD && command === 'meetmatt' ? process.env.INIT_CWD : root,
  stdio: 'inherit',
});
// Ctrl-C reaches the whole process group; the child shuts down on its own signal. Forward
// SIGTERM (a supervisor's stop) and do not die before the child has finished.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    child.kill(signal);
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
