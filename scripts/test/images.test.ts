import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  type TestDatabase,
  type TestVhost,
  createTestDatabase,
  createTestVhost,
  randomSuffix,
} from '@meetmatt/infra/testing';

/**
 * The production images, as far as they can be checked without a Docker engine: each service's
 * Dockerfile is multi-stage on a maintained Node.js LTS, builds with scripts/build.js, installs
 * production dependencies only and runs compiled JavaScript; the bundles its build stage makes
 * (the same command, run here) load only packages that stage installs, and one of them, started
 * with plain `node` (no tsx), migrates and serves /readyz against the real PostgreSQL and RabbitMQ.
 */

const root = path.resolve(__dirname, '..', '..');
const SERVICES = ['payment-service', 'user-service', 'brain-service'] as const;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the build is plain CommonJS
const { build } = require('../build.js') as {
  build(targets: string[], outRoot?: string): Promise<{ file: string; external: string[] }[]>;
};

interface Stage {
  from: string;
  lines: string[];
}

/** A Dockerfile's stages: each FROM and the instructions under it (continuations joined). */
function stages(service: string): Stage[] {
  const text = readFileSync(path.join(root, service, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, '');
  const out: Stage[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    if (line.startsWith('FROM ')) out.push({ from: line.slice(5), lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** The packages a workspace may load in production: its dependencies and its workspaces', transitively. */
function productionPackages(workspace: string, seen = new Set<string>()): Set<string> {
  const pkg = JSON.parse(readFileSync(path.join(root, workspace, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    if (seen.has(name)) continue;
    seen.add(name);
    if (name.startsWith('@meetmatt/')) productionPackages(name.slice('@meetmatt/'.length), seen);
  }
  return seen;
}

/** The package a bare import names: `pg`, `@opentelemetry/api` (without a subpath). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('production images', () => {
  // Inside the repository, so the bundles find its node_modules as the image's find theirs.
  const outRoot = path.join(root, '.run', `images-${randomSuffix()}`);
  let built: { file: string; external: string[] }[] = [];

  beforeAll(async () => {
    // The build stage's own command, from each Dockerfile.
    const targets = new Set<string>();
    for (const service of SERVICES) {
      const run = stages(service)[0]!.lines.find((l) => l.startsWith('RUN node scripts/build.js'));
      for (const target of run!.split(' ').slice(3)) targets.add(target);
    }
    built = await build([...targets], outRoot);
  }, 120_000);

  afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

  test.each(SERVICES)(
    'when %s’s Dockerfile is read, then it builds in one stage, installs production dependencies in another and runs compiled JavaScript as node on Node.js 22 or 24',
    (service) => {
      const all = stages(service);
      expect(all.length).toBeGreaterThanOrEqual(3);
      for (const stage of all) expect(stage.from).toMatch(/^node:(22|24)-bookworm-slim( AS \w+)?$/);
      const [buildStage, deps, runtime] = [all[0]!, all[1]!, all.at(-1)!];
      expect(buildStage.lines).toContain(`RUN node scripts/build.js ${service} cli`);
      expect(deps.lines).toContainEqual(
        expect.stringMatching(new RegExp(`^RUN npm ci --omit=dev --workspace ${service} `)),
      );
      // The runtime copies node_modules and the bundles, nothing else of the repository.
      const copies = runtime.lines.filter((l) => l.startsWith('COPY'));
      expect(copies).toEqual([
        'COPY --from=deps /app/node_modules ./node_modules',
        'COPY --from=build /app/package.json ./',
        `COPY --from=build /app/${service}/package.json ./${service}/`,
        `COPY --from=build /app/${service}/dist ./${service}/dist`,
        'COPY --from=build /app/scripts/package.json ./scripts/',
        'COPY --from=build /app/scripts/dist ./scripts/dist',
      ]);
      expect(runtime.lines).toContain('USER node');
      expect(runtime.lines).toContain(
        `CMD ["node", "--enable-source-maps", "${service}/dist/main.js"]`,
      );
      expect(runtime.lines.join('\n')).not.toMatch(/tsx|typescript|\.ts\b/);
    },
  );

  test('when .dockerignore is read, then no test, dependency folder or local state reaches a build', () => {
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(
      expect.arrayContaining(['**/node_modules', '**/dist', '**/test', '.git', '.run', '.env']),
    );
  });

  test('when the gateway’s Dockerfile is read, then it is nginx with our templates and the entrypoint that renders them', () => {
    const text = readFileSync(path.join(root, 'infra/gateway/Dockerfile'), 'utf8');
    expect(text).toMatch(/^FROM nginx:1\.\d+-alpine$/m);
    expect(text).toContain(
      'COPY infra/gateway/*.template infra/gateway/docker-entrypoint.sh /etc/meetmatt/gateway/',
    );
    expect(text).toContain('ENTRYPOINT ["/bin/sh", "/etc/meetmatt/gateway/docker-entrypoint.sh"]');
    expect(text).toMatch(/^USER nginx$/m);
  });

  test.each(SERVICES)(
    'when %s is bundled as its image’s build stage does, then every package it loads at runtime is a production dependency, and no TypeScript tooling',
    (service) => {
      const allowed = productionPackages(service);
      const bundles = built.filter((b) => b.file.startsWith(`${service}/dist/`));
      expect(bundles.map((b) => b.file)).toContain(`${service}/dist/main.js`);
      expect(bundles.map((b) => b.file)).toContain(`${service}/dist/migrate.js`);
      for (const bundle of bundles) {
        expect(existsSync(path.join(outRoot, bundle.file))).toBe(true);
        const missing = bundle.external.map(packageOf).filter((p) => !allowed.has(p));
        expect([bundle.file, missing]).toEqual([bundle.file, []]);
        for (const tool of ['tsx', 'typescript', 'esbuild', '@swc/core', 'jest'])
          expect([bundle.file, bundle.external.map(packageOf)]).not.toEqual([
            bundle.file,
            expect.arrayContaining([tool]),
          ]);
        // Our workspaces are inside the bundle, not loaded from node_modules.
        expect(bundle.external.filter((p) => p.startsWith('@meetmatt/'))).toEqual([]);
      }
    },
  );

  test('when the operator CLI bundle runs with plain node, then it prints its version and loads nothing from node_modules', () => {
    const cli = built.find((b) => b.file === 'scripts/dist/cli.js')!;
    expect(cli.external).toEqual(['pg-native']);
    // The image's layout: the root package.json beside scripts/ (the CLI reads its version).
    copyFileSync(path.join(root, 'package.json'), path.join(outRoot, 'package.json'));
    const out = execFileSync(process.execPath, [path.join(outRoot, cli.file), '--version'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(out.trim()).toMatch(/^meetmatt \d+\.\d+\.\d+/);
  });

  describe('user-service, compiled, with plain node', () => {
    let database: TestDatabase;
    let vhost: TestVhost;

    beforeAll(async () => {
      [database, vhost] = await Promise.all([
        createTestDatabase('images_user'),
        createTestVhost('images'),
      ]);
    });

    afterAll(async () => {
      await Promise.all([database?.drop(), vhost?.drop()]);
    });

    test('when its migrations and then the service run from dist with no tsx, then it migrates, answers /readyz 200 and stops cleanly on SIGTERM', async () => {
      const env = {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'development',
        PORT: String(await freePort()),
        DATABASE_URL: database.url,
        RABBITMQ_URL: vhost.url,
        GATEWAY_SHARED_SECRET: randomUUID(),
        PASSWORD_SCRYPT_LOG_N: '10',
        LOG_LEVEL: 'warn',
      };
      execFileSync(
        process.execPath,
        ['--enable-source-maps', path.join(outRoot, 'user-service/dist/migrate.js')],
        { env, encoding: 'utf8', timeout: 60_000 },
      );
      const child = spawn(
        process.execPath,
        ['--enable-source-maps', path.join(outRoot, 'user-service/dist/main.js')],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      try {
        const deadline = Date.now() + 60_000;
        let status = 0;
        while (status !== 200) {
          if (child.exitCode !== null) throw new Error(`exited early:\n${output}`);
          if (Date.now() > deadline) throw new Error(`not ready within a minute:\n${output}`);
          const res = await fetch(`http://127.0.0.1:${env.PORT}/readyz`).catch(() => undefined);
          status = res?.status ?? 0;
          await res?.arrayBuffer();
          if (status !== 200) await new Promise((r) => setTimeout(r, 250));
        }
        // Its database answers: the development signing key it published is stored there.
        const jwks = await fetch(`http://127.0.0.1:${env.PORT}/.well-known/jwks.json`);
        expect(jwks.status).toBe(200);
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(output).not.toMatch(/tsx|\.ts:\d+/);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }, 90_000);
  });
});
