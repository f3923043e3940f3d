import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { services } from '@meetmatt/contracts';
import { SERVICE_DOCKERFILE, buildArgsOf, dockerfileStages } from '../support/dockerfile';
import { overlayNames, root } from './cluster';

/**
 * The GitHub workflow cannot run here: these tests keep it consistent with .ci/run (what runs
 * here) and with the repository it builds.
 */

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
}
interface Job {
  steps: Step[];
  env?: Record<string, string>;
  services?: Record<string, { image: string; env?: Record<string, string>; ports?: string[] }>;
  strategy?: { matrix: Record<string, unknown> & { include?: Record<string, string>[] } };
}

const workflow = parse(readFileSync(path.join(root, '.github/workflows/ci.yml'), 'utf8')) as {
  on: unknown;
  jobs: Record<string, Job>;
};
const ciRun = readFileSync(path.join(root, '.ci/run'), 'utf8');

/** The project commands a script runs (node scripts/..., npm ...), in order. */
const projectCommands = (lines: string[]) =>
  lines.map((line) => line.trim()).filter((line) => /^(node scripts\/|npm )/.test(line));

describe('.github/workflows/ci.yml', () => {
  it('when .ci/run and the workflow’s test job are compared, then both run install, lint, type check and npm test, in that order', () => {
    const local = projectCommands(ciRun.split('\n'));
    expect(local).toEqual([
      'node scripts/bootstrap.js install',
      'npm run lint',
      'npm run typecheck',
      'npm test',
    ]);
    const steps = workflow.jobs.test!.steps.flatMap((step) =>
      step.run ? step.run.split('\n') : [],
    );
    expect(projectCommands(steps)).toEqual(local);
    expect(workflow.jobs.test!.env?.CI).toBe('true');
  });

  it('when the test job runs, then PostgreSQL 15, RabbitMQ and EventStoreDB run beside it and EVENTSTORE_TEST_URL points at the EventStoreDB one', () => {
    const job = workflow.jobs.test!;
    const services = job.services ?? {};
    expect(services.postgres?.image).toMatch(/^postgres:15(\b|$)/);
    expect(services.postgres?.env?.POSTGRES_HOST_AUTH_METHOD).toBe('trust');
    expect(services.postgres?.ports).toContain('5432:5432');
    expect(services.rabbitmq?.image).toMatch(/^rabbitmq:\d/);
    expect(services.rabbitmq?.ports).toContain('5672:5672');
    expect(services.eventstore?.image).toMatch(/kurrentdb|eventstore/);
    const url = new URL(job.env!.EVENTSTORE_TEST_URL!);
    expect(url.protocol).toBe('esdb:');
    expect(services.eventstore?.ports).toContain(`${url.port}:2113`);
    // Insecure server, plain-text client: they must agree.
    expect(services.eventstore?.env?.KURRENTDB_INSECURE).toBe('true');
    expect(url.searchParams.get('tls')).toBe('false');
    // jest leaves the contract suite out without the variable; the job sets it for every step.
    expect(readFileSync(path.join(root, 'jest.config.js'), 'utf8')).toContain(
      'EVENTSTORE_TEST_URL',
    );
    expect(existsSync(path.join(root, 'infra/test/event-store/esdb.contract.test.ts'))).toBe(true);
  });

  it('when the workflow builds images, then every Dockerfile in the repository is built, the services’ one once per service with its SERVICE and PORT', () => {
    const dockerfiles = [
      ...(existsSync(path.join(root, SERVICE_DOCKERFILE)) ? [SERVICE_DOCKERFILE] : []),
      ...readdirSync(root, { withFileTypes: true })
        .filter(
          (entry) => entry.isDirectory() && existsSync(path.join(root, entry.name, 'Dockerfile')),
        )
        .map((entry) => `${entry.name}/Dockerfile`),
      ...(existsSync(path.join(root, 'infra/gateway/Dockerfile'))
        ? ['infra/gateway/Dockerfile']
        : []),
    ];
    expect(dockerfiles).toEqual([SERVICE_DOCKERFILE, 'infra/gateway/Dockerfile']);
    const include = workflow.jobs.images!.strategy!.matrix.include ?? [];
    const built = include.map((entry) => entry.dockerfile);
    for (const dockerfile of dockerfiles) expect(built).toContain(dockerfile);
    // One entry per service, named after it, with the build arguments compose passes.
    const serviceBuilds = include
      .filter((entry) => entry.dockerfile === SERVICE_DOCKERFILE)
      .map((entry) => [entry.image, buildArgsOf(entry['build-args'] ?? '')] as const);
    expect(serviceBuilds).toEqual(
      Object.values(services).map(({ name, port }) => [
        name,
        { SERVICE: name, PORT: String(port) },
      ]),
    );
    for (const [, args] of serviceBuilds)
      expect(() => dockerfileStages(SERVICE_DOCKERFILE, args)).not.toThrow();
    const steps = workflow.jobs.images!.steps;
    const build = steps.find((step) => step.run?.includes('docker build'));
    expect(build?.run).toContain('${{ matrix.build-args }} -f ${{ matrix.dockerfile }}');
    // On a real engine, too: a build without SERVICE fails with the Dockerfile's message.
    const refused = steps.find((step) => step.run?.includes('build arg SERVICE is required'));
    expect(refused?.run).toMatch(/if docker build --build-arg PORT=\d+ -f Dockerfile \./);
    expect(readFileSync(path.join(root, SERVICE_DOCKERFILE), 'utf8')).toContain(
      '${SERVICE:?build arg SERVICE is required',
    );
  });

  it('when the workflow validates manifests, then it builds every overlay with kustomize and checks them strictly', () => {
    const job = workflow.jobs.manifests!;
    expect(job.strategy!.matrix.overlay).toEqual(overlayNames());
    const runs = job.steps.map((step) => step.run ?? '').join('\n');
    expect(runs).toContain('kubectl kustomize infra/k8s/overlays/${{ matrix.overlay }}');
    expect(runs).toMatch(/kubeconform[\s\S]*-strict/);
  });
});
