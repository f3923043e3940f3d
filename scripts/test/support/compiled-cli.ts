/**
 * The operator CLI compiled once for the tests: scripts/build.js's `cli` bundle (what the images
 * ship), so each command a test runs is a plain `node cli.js` process instead of tsx compiling
 * the CLI and the services' code again (about three times the CPU per command).
 *
 * Built at first use and kept under scripts/.run/ (git-ignored) until one of the files it was
 * built from changes (size or mtime, recorded in scripts/.run/cli.json). Jest's workers may find
 * it stale at the same moment: each then builds into a directory of its own and the manifest is
 * replaced by a rename, so a reader always finds a whole bundle; no lock is needed.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
// Two levels under scripts/, as the bundle in an image is under the repository: the CLI reads
// its version from `<bundle dir>/../../package.json`, scripts/package.json here.
const runDir = path.join(root, 'scripts', '.run');
const manifestFile = path.join(runDir, 'cli.json');
/** Bundles superseded longer ago than this are removed (a test may still be starting one). */
const keepOldMs = 10 * 60_000;

interface Manifest {
  bundle: string;
  /** Every input (relative to the repository) with `<size>:<mtimeMs>` when it was built. */
  inputs: Record<string, string>;
}

function stamp(file: string): string | undefined {
  try {
    const s = statSync(path.join(root, file));
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

function freshBundle(): string | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  if (!existsSync(manifest.bundle)) return undefined;
  for (const [file, recorded] of Object.entries(manifest.inputs))
    if (stamp(file) !== recorded) return undefined;
  return manifest.bundle;
}

function removeOldBundles(current: string): void {
  for (const name of readdirSync(runDir)) {
    const dir = path.join(runDir, name);
    if (!name.startsWith('cli-') || dir === path.dirname(current)) continue;
    if (Date.now() - statSync(dir).mtimeMs > keepOldMs)
      rmSync(dir, { recursive: true, force: true });
  }
}

/** esbuild runs in a child process: its API spawns a service and checks typed arrays across realms, neither of which suits a jest worker. */
function build(): string {
  const dir = path.join(runDir, `cli-${Date.now()}-${process.pid}`);
  const bundle = path.join(dir, 'cli.js');
  const script = `
    const { buildCli } = require(${JSON.stringify(path.join(root, 'scripts', 'build.js'))});
    buildCli(${JSON.stringify(bundle)}).then(
      (inputs) => process.stdout.write(JSON.stringify(inputs)),
      (error) => { process.stderr.write(String(error && error.message)); process.exit(1); },
    );`;
  const started = Date.now();
  const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(`building the CLI for the tests failed: ${run.stderr || run.error}`);
  const inputs: Record<string, string> = {};
  for (const file of [...(JSON.parse(run.stdout) as string[]), 'scripts/build.js']) {
    // A file saved while the build ran may not be in the bundle: the next run builds again.
    const modified = statSync(path.join(root, file), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    inputs[file] = modified >= started - 1000 ? 'saved during the build' : (stamp(file) ?? '');
  }
  const temp = `${manifestFile}.${process.pid}`;
  writeFileSync(temp, JSON.stringify({ bundle, inputs } satisfies Manifest));
  renameSync(temp, manifestFile);
  removeOldBundles(bundle);
  return bundle;
}

let cached: string | undefined;

/** The path of an up-to-date CLI bundle, building it when there is none. */
export function compiledCli(): string {
  cached ??= freshBundle() ?? build();
  return cached;
}
