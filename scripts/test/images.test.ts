import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { services } from '@meetmatt/contracts';
import {
  type TestDatabase,
  type TestVhost,
  createTestDatabase,
  createTestVhost,
  eventually,
  randomSuffix,
} from '@meetmatt/infra/testing';
import {
  type Instruction,
  type Stage,
  SERVICE_DOCKERFILE,
  containerEnv,
  dockerfileStages,
  instructionsOf,
  pairs,
  shellArgv,
} from './support/dockerfile';

/**
 * The production images, as far as they can be checked without a Docker engine: the one
 * Dockerfile, read for each service as its build arguments make it (SERVICE, PORT), is
 * multi-stage on a maintained Node.js LTS, builds with scripts/build.js, installs production
 * dependencies only and runs compiled JavaScript, and stops at once without SERVICE or PORT. The
 * bundles its build stage makes (its own command line, expanded by sh, run here) load only
 * packages that stage installs; the runtime stage's COPY and RUN instructions, replayed into a
 * directory, give an image whose CMD starts that service, and user-service, started so with
 * plain `node` (no tsx), migrates, serves /readyz to the image's HEALTHCHECK and stops on SIGTERM
 * against the real PostgreSQL and RabbitMQ.
 */

const root = path.resolve(__dirname, '..', '..');
const SERVICES = Object.values(services).map(({ name, port }) => ({ name, port }));
const SERVICE_NAMES = SERVICES.map((s) => s.name);
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the build is plain CommonJS
const { build } = require('../build.js') as {
  build(targets: string[], outRoot?: string): Promise<{ file: string; external: string[] }[]>;
};

/** The Dockerfile's stages as `docker build --build-arg SERVICE=<name> --build-arg PORT=<port>` reads them. */
function stages(service: string, buildArgs: Record<string, string> = {}): Stage[] {
  const port = SERVICES.find((s) => s.name === service)!.port;
  return dockerfileStages(SERVICE_DOCKERFILE, {
    SERVICE: service,
    PORT: String(port),
    ...buildArgs,
  });
}

/** The one RUN of a stage whose command starts with `command`. */
function run(stage: Stage, command: string): Instruction {
  const found = instructionsOf(stage, 'RUN').filter((i) => i.args.startsWith(command));
  expect(found).toHaveLength(1);
  return found[0]!;
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

  /**
   * The runtime stage of `service`'s image replayed into a directory: its COPY --from=build
   * instructions copy from the build stage's files (the bundles in outRoot, the rest from the
   * repository), its RUN instructions run there with sh. node_modules (the deps stage's) is the
   * repository's, found above the directory as the image's is found in /app.
   */
  function assembleImage(service: string): { dir: string; runtime: Stage } {
    const runtime = stages(service).at(-1)!;
    const dir = path.join(outRoot, `image-${service}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    expect(instructionsOf(runtime, 'WORKDIR').map((i) => i.args)).toEqual(['/app']);
    for (const instruction of runtime.instructions) {
      if (instruction.keyword === 'COPY') {
        const [, from, source = '', target = ''] =
          /^--from=(\w+) \/app\/(\S+) (\S+)$/.exec(instruction.args) ?? [];
        if (from === 'deps') continue;
        expect([instruction.args, from]).toEqual([instruction.args, 'build']);
        const origin = existsSync(path.join(outRoot, source))
          ? path.join(outRoot, source)
          : path.join(root, source);
        const destination = target.endsWith('/')
          ? path.join(dir, target, path.basename(source))
          : path.join(dir, target);
        cpSync(origin, destination, { recursive: true });
      } else if (instruction.keyword === 'RUN') {
        execFileSync('sh', ['-c', instruction.args], {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '', ...instruction.env },
        });
      }
    }
    return { dir, runtime };
  }

  /** The runtime's exec-form CMD as a child process in the assembled image, with `docker run -e` variables. */
  function startImage(
    { dir, runtime }: { dir: string; runtime: Stage },
    env: Record<string, string>,
  ) {
    const cmd = JSON.parse(instructionsOf(runtime, 'CMD').at(-1)!.args) as string[];
    expect(cmd[0]).toBe('node');
    const imageEnv = containerEnv(runtime);
    const child = spawn(process.execPath, cmd.slice(1), {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...imageEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, exited, output: () => output, dir, runtime, imageEnv };
  }

  beforeAll(async () => {
    // The build stage's own command line, from the Dockerfile read for each service.
    const targets = new Set<string>();
    for (const { name } of SERVICES) {
      const argv = shellArgv(run(stages(name)[0]!, 'node scripts/build.js'));
      expect(argv.slice(0, 2)).toEqual(['node', 'scripts/build.js']);
      for (const target of argv.slice(2)) targets.add(target);
    }
    built = await build([...targets], outRoot);
  }, 120_000);

  afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

  test.each(SERVICES)(
    'when the Dockerfile is read with SERVICE=$name, then it builds in one stage, installs production dependencies in another and runs compiled JavaScript as node on Node.js 22 or 24',
    ({ name: service, port }) => {
      const all = stages(service, { BUILD_COMMIT: 'c0ffee' });
      expect(all.length).toBeGreaterThanOrEqual(3);
      for (const stage of all) expect(stage.from).toMatch(/^node:(22|24)-bookworm-slim( AS \w+)?$/);
      const [buildStage, deps, runtime] = [all[0]!, all[1]!, all.at(-1)!];
      expect(shellArgv(run(buildStage, 'node scripts/build.js'))).toEqual([
        'node',
        'scripts/build.js',
        service,
        'cli',
      ]);
      const install = shellArgv(run(deps, 'npm ci'));
      expect(install.slice(0, 5)).toEqual(['npm', 'ci', '--omit=dev', '--workspace', service]);
      expect(install).toContain('--include-workspace-root=false');
      // The runtime copies node_modules and this service's bundles, nothing else of the repository.
      const copies = instructionsOf(runtime, 'COPY').map((i) => i.args);
      expect(copies).toEqual([
        '--from=deps /app/node_modules ./node_modules',
        '--from=build /app/package.json ./',
        `--from=build /app/${service}/package.json ./${service}/`,
        `--from=build /app/${service}/dist ./${service}/dist`,
        '--from=build /app/scripts/package.json ./scripts/',
        '--from=build /app/scripts/dist ./scripts/dist',
      ]);
      // The exec-form CMD (node is PID 1 and gets SIGTERM) runs main.js, this service's bundle.
      expect(instructionsOf(runtime, 'CMD').map((i) => i.args)).toEqual([
        '["node", "--enable-source-maps", "main.js"]',
      ]);
      expect(shellArgv(run(runtime, 'ln'))).toEqual([
        'ln',
        '-s',
        `${service}/dist/main.js`,
        'main.js',
      ]);
      expect(instructionsOf(runtime, 'USER').map((i) => i.args)).toEqual(['node']);
      const env = containerEnv(runtime);
      expect(env).toMatchObject({
        NODE_ENV: 'production',
        HOST: '0.0.0.0',
        PORT: String(port),
        LOG_FORMAT: 'json',
        BUILD_COMMIT: 'c0ffee',
      });
      expect(instructionsOf(runtime, 'EXPOSE').map((i) => i.args)).toEqual([String(port)]);
      expect(
        pairs(
          instructionsOf(runtime, 'LABEL')
            .map((i) => i.args)
            .join(' '),
        ),
      ).toContainEqual(['org.opencontainers.image.title', service]);
      expect(instructionsOf(runtime, 'HEALTHCHECK').map((i) => i.args)).toEqual([
        expect.stringMatching(/ CMD node -e .*process\.env\.PORT\+'\/readyz'/),
      ]);
      const text = runtime.instructions.map((i) => i.args).join('\n');
      expect(text).not.toMatch(/tsx|typescript|\.ts\b/);
      // Nothing of another service.
      for (const other of SERVICE_NAMES.filter((s) => s !== service))
        expect(text).not.toContain(other);
    },
  );

  test('when the image is built without SERVICE or PORT, then the Dockerfile stops before any step runs, naming the missing argument', () => {
    expect(() => dockerfileStages(SERVICE_DOCKERFILE, { PORT: '3001' })).toThrow(
      /^SERVICE: build arg SERVICE is required \(payment-service, user-service or brain-service\)$/,
    );
    expect(() => dockerfileStages(SERVICE_DOCKERFILE, { SERVICE: '', PORT: '3001' })).toThrow(
      /^SERVICE: build arg SERVICE is required/,
    );
    expect(() => dockerfileStages(SERVICE_DOCKERFILE, { SERVICE: 'user-service' })).toThrow(
      /^PORT: build arg PORT is required \(payment-service 3001, user-service 3002, brain-service 3003\)$/,
    );
    // And a builder that would not check: the build and deps stages' own shells stop too.
    const [buildStage, deps] = stages('user-service');
    for (const instruction of [run(buildStage!, 'node scripts/build.js'), run(deps!, 'npm ci')]) {
      const { SERVICE: _, ...withoutService } = instruction.env;
      expect(() => shellArgv({ ...instruction, env: withoutService })).toThrow(
        /SERVICE: build arg SERVICE is required/,
      );
    }
  });

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

  test.each(SERVICE_NAMES)(
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

  test.each(SERVICE_NAMES)(
    'when %s’s image starts with its own environment only, then its CMD runs that service’s main, which refuses production without its secrets',
    async (service) => {
      const started = startImage(assembleImage(service), {});
      const code = await started.exited;
      expect(started.imageEnv.NODE_ENV).toBe('production');
      expect(code).not.toBe(0);
      expect(started.output()).toMatch(new RegExp(`^${service}: Invalid configuration: `, 'm'));
    },
    30_000,
  );

  describe('user-service’s image, started as its CMD', () => {
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

    test('when its migrations and then its CMD run with no tsx, then it migrates, answers /readyz and the HEALTHCHECK, and stops cleanly on SIGTERM', async () => {
      const env = {
        NODE_ENV: 'development',
        PORT: String(await freePort()),
        DATABASE_URL: database.url,
        RABBITMQ_URL: vhost.url,
        GATEWAY_SHARED_SECRET: randomUUID(),
        PASSWORD_SCRYPT_LOG_N: '10',
        LOG_LEVEL: 'warn',
      };
      const image = assembleImage('user-service');
      const { dir, runtime } = image;
      // What the Kubernetes Job runs in the image (infra/k8s/base/migrations.yaml).
      execFileSync(process.execPath, ['--enable-source-maps', 'user-service/dist/migrate.js'], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
        timeout: 60_000,
      });
      // The HEALTHCHECK's command, as the engine runs it: sh -c in the container's environment.
      const healthcheck = /\bCMD (.*)$/.exec(instructionsOf(runtime, 'HEALTHCHECK')[0]!.args)![1]!;
      const healthy = () =>
        spawnSync('sh', ['-c', healthcheck], {
          env: { PATH: process.env.PATH ?? '', PORT: env.PORT },
          timeout: 10_000,
        }).status === 0;
      const started = startImage(image, env);
      const { child, exited } = started;
      try {
        const ready = eventually(
          'user-service to answer /readyz 200',
          async () => {
            const res = await fetch(`http://127.0.0.1:${env.PORT}/readyz`);
            await res.arrayBuffer();
            return res.status === 200;
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        await Promise.race([
          ready,
          exited.then((code) => {
            throw new Error(`exited early (${code}):\n${started.output()}`);
          }),
        ]);
        expect(healthy()).toBe(true);
        // Its database answers: the development signing key it published is stored there.
        const jwks = await fetch(`http://127.0.0.1:${env.PORT}/.well-known/jwks.json`);
        expect(jwks.status).toBe(200);
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(healthy()).toBe(false);
        expect(started.output()).not.toMatch(/tsx|\.ts:\d+/);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }, 90_000);
  });
});
