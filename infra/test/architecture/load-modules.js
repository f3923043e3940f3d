// Run in a fresh process (`node --import tsx load-modules.js <file>...`) by domain-purity.test.ts:
// requires each file in turn and prints the modules each one loaded that were not loaded yet.
'use strict';
const loadedBy = {};
for (const file of process.argv.slice(2)) {
  const before = new Set(Object.keys(require.cache));
  require(file);
  loadedBy[file] = Object.keys(require.cache).filter((module) => !before.has(module));
}
process.stdout.write(JSON.stringify(loadedBy));
