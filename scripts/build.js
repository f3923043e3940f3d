#!/usr/bin/env node
// The production build: TypeScript to JavaScript with esbuild, what the root Dockerfile's build
// stage runs for the service it is built for (`node scripts/build.js "$SERVICE" cli`), so no
// TypeScript compiler or tsx is needed at runtime. Targets:
//   payment-service, user-service, brain-service: <service>/dist/main.js (the service),
//     <service>/dist/migrate.js (the migrations, as the Kubernetes Job runs them) and, for
//     payment and brain, <service>/dist/sandbox-main.js (the provider sandbox). Our workspaces
//     (@meetmatt/*) are bundled in; every other package stays in node_modules, loaded at runtime
//     (so OpenTelemetry's instrumentations can hook them).
//   cli: scripts/dist/cli.js, the operator CLI with everything bundled in, so it runs inside any
//     of the service images: `docker run ... node scripts/dist/cli.js`.
// With no target, all of them. Prints one line per file written.
'use strict';
const { builtinModules } = require('node:module');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');

const services = {
  'payment-service': { sandbox: 'src/nowpayments/sandbox-main.ts' },
  'user-service': {},
  'brain-service': { sandbox: 'src/devin/sandbox-main.ts' },
};

/** Bundles our workspaces; leaves every other package to node_modules. */
const externalPackages = {
  name: 'external-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@meetmatt/') || args.path.startsWith('node:')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

const common = {
  bundle: true,
  platform: 'node',
  // The images run Node 22 or newer (the maintained LTS lines).
  target: 'node22',
  format: 'cjs',
  sourcemap: true,
  // Stack traces and error messages keep our function and class names.
  keepNames: true,
  logLevel: 'warning',
  metafile: true,
};

/** The migrations of one service, as infra/k8s/base/migrations.yaml's Job runs them. */
function migrateSource(service) {
  return `
const { createDatabase, createLogger, ensureDatabase, migrateAll } = require('@meetmatt/infra');
const { migrations } = require('@meetmatt/${service}/migrations');
(async () => {
  const logger = createLogger({ service: '${service}', level: 'info' });
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  await ensureDatabase(url);
  // No statement or lock bounds: an index build or another instance's migration may take long.
  const migrator = createDatabase({ url, logger, max: 1, applicationName: '${service}:migrate', statementTimeoutMs: 0, lockTimeoutMs: 0 });
  try {
    await migrateAll(migrator.db, migrations);
    logger.info('migrations applied');
  } finally {
    await migrator.close();
  }
})().catch((error) => {
  console.error(\`migration failed: \${error.message}\`);
  process.exit(1);
});
`;
}

/** The operator CLI with everything bundled in. */
const cliOptions = {
  entryPoints: [path.join(root, 'scripts/src/cli/main.ts')],
  // pg's optional native binding is never used.
  external: ['pg-native'],
  // ES module packages bundled into CommonJS (pdfkit's node build, which the payment service's
  // code loads) read import.meta.url, empty there: `new URL(..., undefined)` threw while loading
  // and `meetmatt payments reconcile` failed with "Invalid URL". The bundle's own URL instead.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: {
    js: '"use strict";\nconst __bundleUrl = require("node:url").pathToFileURL(__filename).href;',
  },
};

/** Every bundle of a target: [output file, esbuild options]. */
function bundlesOf(target) {
  if (target === 'cli') return [['scripts/dist/cli.js', cliOptions]];
  const service = services[target];
  if (!service) return undefined;
  const out = [
    [
      `${target}/dist/main.js`,
      { entryPoints: [path.join(root, target, 'src/main.ts')], plugins: [externalPackages] },
    ],
    [
      `${target}/dist/migrate.js`,
      {
        stdin: {
          contents: migrateSource(target),
          resolveDir: path.join(root, target),
          sourcefile: 'migrate.js',
          loader: 'js',
        },
        plugins: [externalPackages],
      },
    ],
  ];
  if (service.sandbox) {
    out.push([
      `${target}/dist/sandbox-main.js`,
      {
        entryPoints: [path.join(root, target, service.sandbox)],
        plugins: [externalPackages],
      },
    ]);
  }
  return out;
}

/**
 * Builds the targets; resolves to each output file (relative to `outRoot`, the repository by
 * default) and the packages it loads at runtime.
 */
async function build(targets, outRoot = root) {
  const results = [];
  for (const target of targets) {
    const bundles = bundlesOf(target);
    if (!bundles)
      throw new Error(
        `unknown target ${target}; expected cli or one of ${Object.keys(services).join(', ')}`,
      );
    for (const [file, options] of bundles) {
      const result = await esbuild.build({
        ...common,
        ...options,
        outfile: path.join(outRoot, file),
      });
      const external = new Set();
      for (const output of Object.values(result.metafile.outputs)) {
        for (const imported of output.imports) {
          const builtin =
            imported.path.startsWith('node:') || builtinModules.includes(imported.path);
          if (imported.external && !builtin) external.add(imported.path);
        }
      }
      results.push({ file, external: [...external].sort() });
    }
  }
  return results;
}

/**
 * The CLI bundle alone, at `outfile` (the tests run this one instead of tsx, a process per
 * command). Resolves to the files it was built from, relative to the repository, so a caller
 * can tell when it is stale. No source map: nothing reads it there.
 */
async function buildCli(outfile) {
  const result = await esbuild.build({
    ...common,
    ...cliOptions,
    sourcemap: false,
    absWorkingDir: root,
    outfile,
  });
  return Object.keys(result.metafile.inputs);
}

module.exports = { build, buildCli, targets: [...Object.keys(services), 'cli'] };

if (require.main === module) {
  const args = process.argv.slice(2);
  build(args.length ? args : module.exports.targets).then(
    (results) => {
      for (const { file } of results) process.stdout.write(`built ${file}\n`);
    },
    (error) => {
      process.stderr.write(`build failed: ${error.message}\n`);
      process.exit(1);
    },
  );
}
