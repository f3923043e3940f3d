import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { GATEWAY_PORT, type ServiceKey, services } from '@meetmatt/contracts';
import { databaseName } from '@meetmatt/infra';
import {
  SANDBOX_API_KEY,
  SANDBOX_IPN_SECRET,
  paymentConfigSchema,
  loadPaymentConfig,
} from '@meetmatt/payment-service/config';
import { userConfigSchema, loadUserConfig } from '@meetmatt/user-service/config';
import { buildKeyRing, generateSigningJwk } from '@meetmatt/user-service/application/signing-keys';
import { brainConfigSchema, loadBrainConfig } from '@meetmatt/brain-service/config';
import { SANDBOX_DEVIN_API_KEY } from '@meetmatt/brain-service/devin/sandbox-defaults';
import { gatewayValues } from '../src/lib/gateway';
import {
  postgresRole,
  rabbitmqPermissions,
  rabbitmqTopicPermissions,
  rabbitmqUser,
} from '../src/lib/service-accounts';
import { loadSystemConfig, systemConfigSchema } from '../src/lib/system-config';
import {
  SERVICE_DOCKERFILE,
  containerEnv,
  dockerfileStages,
  instructionsOf,
  shellArgv,
} from './support/dockerfile';

const root = path.resolve(__dirname, '..', '..');

interface ComposeService {
  image?: string;
  restart?: string;
  hostname?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  profiles?: string[];
  networks?: string[];
}

type Environment = Record<string, string | undefined>;

/**
 * Compose's interpolation of `${X}`, `${X:-default}`, `${X-default}`, `${X:?error}`,
 * `${X?error}` and `$$`, applied to every value as compose does after parsing. Any other form
 * fails, so the test never guesses; a required variable that is missing throws as compose
 * refuses to start.
 */
function interpolate(text: string, environment: Environment): string {
  return text.replace(
    /\$\$|\$\{([^}]*)\}|\$([A-Za-z_]\w*)/g,
    (match, braced?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare !== undefined) return environment[bare] ?? '';
      const form = /^([A-Za-z_]\w*)(?:(:?[-?])([^$]*))?$/.exec(braced ?? '');
      if (!form) throw new Error(`docker-compose.yml: unsupported interpolation ${match}`);
      const [, name, operator, argument = ''] = form;
      const value = environment[name!];
      if (operator === ':-') return value ? value : argument;
      if (operator === '-') return value ?? argument;
      if (operator === ':?' && !value)
        throw new Error(`required variable ${name} is missing: ${argument}`);
      if (operator === '?' && value === undefined)
        throw new Error(`required variable ${name} is missing: ${argument}`);
      return value ?? '';
    },
  );
}

function interpolateAll(value: unknown, environment: Environment): unknown {
  if (typeof value === 'string') return interpolate(value, environment);
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, environment));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolateAll(item, environment)]),
    );
  return value;
}

const composeText = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');

/** The secrets compose cannot start without (stand-ins here: strong-looking, not real). */
const requiredSecrets = {
  POSTGRES_PASSWORD: 'pg-superuser-7fK2q9',
  RABBITMQ_ADMIN_PASSWORD: 'mq-admin-3Hs8d1',
  PAYMENT_DB_PASSWORD: 'pay-db-9sd8F2',
  USER_DB_PASSWORD: 'usr-db-1Qw8e7',
  BRAIN_DB_PASSWORD: 'brn-db-5Tg6h4',
  PAYMENT_RABBITMQ_PASSWORD: 'pay-mq-2Zx9c8',
  USER_RABBITMQ_PASSWORD: 'usr-mq-7Yu6i5',
  BRAIN_RABBITMQ_PASSWORD: 'brn-mq-4Rt3e2',
  GATEWAY_SHARED_SECRET: 'gateway-shared-secret-0123456789abcdef',
};

/** docker-compose.yml as compose sees it, with `environment` as the shell's variables. */
function loadCompose(environment: Environment = requiredSecrets): Record<string, ComposeService> {
  const parsed = parse(composeText, { merge: true }) as unknown;
  return (interpolateAll(parsed, environment) as { services: Record<string, ComposeService> })
    .services;
}

/** With only the required secrets set: `docker compose up` on a fresh machine. */
const compose = { services: loadCompose() };
const parsedCompose = parse(composeText, { merge: true }) as {
  networks: Record<string, { internal?: boolean } | null>;
};
const systemDefaults = loadSystemConfig({});

const schemas = {
  payment: paymentConfigSchema,
  user: userConfigSchema,
  brain: brainConfigSchema,
} as const;
const loaders = {
  payment: loadPaymentConfig,
  user: loadUserConfig,
  brain: loadBrainConfig,
} as const;
const keys: ServiceKey[] = ['payment', 'user', 'brain'];

/** What each service needs besides compose's required secrets to run in production. */
const productionSecrets: Record<ServiceKey, Record<string, string>> = {
  payment: {
    NOWPAYMENTS_API_KEY: 'real-nowpayments-key',
    NOWPAYMENTS_IPN_SECRET: 'real-ipn-secret',
    INVOICE_SELLER_NAME: 'Meet Matt SAS',
    INVOICE_SELLER_ADDRESS: '12 rue de la Paix\\n75002 Paris',
  },
  user: { AUTH_SIGNING_KEYS: '' },
  brain: { DEVIN_API_KEY: 'real-devin-key' },
};

let signingKeys: string;
beforeAll(async () => {
  signingKeys = JSON.stringify({ keys: [await generateSigningJwk()] });
  productionSecrets.user.AUTH_SIGNING_KEYS = signingKeys;
});

/** The message a loader throws, or '' when it loads. */
function refusal(load: () => unknown): string {
  try {
    load();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('docker-compose.yml', () => {
  test('when parsed, then it has the servers, the three services, the sandboxes and the gateway', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'postgres',
        'rabbitmq',
        'eventstore',
        'payment-service',
        'user-service',
        'brain-service',
        'nowpayments-sandbox',
        'devin-sandbox',
        'nginx',
      ].sort(),
    );
    expect(compose.services.postgres!.image).toMatch(/^postgres:15/);
    // Current series: RabbitMQ 4.1 and KurrentDB (EventStoreDB) 26, as CI and the overlays run.
    expect(compose.services.rabbitmq!.image).toMatch(/^rabbitmq:4\.\d+-management$/);
    expect(compose.services.eventstore!.image).toMatch(/^kurrentplatform\/kurrentdb:26\./);
    expect(compose.services.eventstore!.environment).toMatchObject({ KURRENTDB_INSECURE: 'true' });
  });

  test('when a container stops on its own, then compose restarts it (every service, unless stopped)', () => {
    for (const [name, service] of Object.entries(compose.services))
      expect([name, service.restart]).toEqual([name, 'unless-stopped']);
  });

  test('when the broker, the database and the event store are recreated, then their data stays in named volumes', () => {
    const named = Object.keys((parsedCompose as { volumes?: object }).volumes ?? {});
    const dataDirs = {
      postgres: '/var/lib/postgresql/data',
      rabbitmq: '/var/lib/rabbitmq',
      eventstore: '/var/lib/kurrentdb',
    };
    for (const [name, dir] of Object.entries(dataDirs)) {
      const volume = compose.services[name]!.volumes?.find((v) => v.split(':')[1] === dir);
      expect([name, volume && named.includes(volume.split(':')[0]!)]).toEqual([name, true]);
    }
    // RabbitMQ keeps its data under its node name, rabbit@<hostname>: the hostname is fixed.
    expect(compose.services.rabbitmq!.hostname).toBe('rabbitmq');
  });

  test('when a service image is built, then it comes from the one multi-stage Dockerfile, with the service and its port as build arguments, and runs compiled JavaScript', () => {
    for (const key of keys) {
      const { name, port } = services[key];
      const service = compose.services[name]!;
      expect(service.build).toEqual({
        context: '.',
        dockerfile: SERVICE_DOCKERFILE,
        args: { SERVICE: name, PORT: String(port) },
      });
      const image = dockerfileStages(service.build!.dockerfile, service.build!.args!);
      expect(image.length).toBeGreaterThanOrEqual(2);
      const runtime = image.at(-1)!;
      // The exec-form CMD runs main.js, which the runtime stage links to this service's bundle.
      expect(instructionsOf(runtime, 'CMD').map((i) => i.args)).toEqual([
        '["node", "--enable-source-maps", "main.js"]',
      ]);
      const link = instructionsOf(runtime, 'RUN').find((i) => i.args.startsWith('ln -s'));
      expect(shellArgv(link!)).toEqual(['ln', '-s', `${name}/dist/main.js`, 'main.js']);
      expect(service.command).toBeUndefined();
    }
  });

  test('when every container is listed, then each has a health check', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const check = service.healthcheck?.test;
      expect([name, Array.isArray(check) ? check[0] : check]).toEqual([
        name,
        expect.stringMatching(/^CMD(-SHELL)?$/),
      ]);
      expect([name, Array.isArray(check) && check.length > 1]).toEqual([name, true]);
    }
  });

  test.each(Object.keys(requiredSecrets))(
    'when %s is not set, then compose refuses to start naming it',
    (variable) => {
      const { [variable as keyof typeof requiredSecrets]: _, ...rest } = requiredSecrets;
      expect(() => loadCompose(rest)).toThrow(`required variable ${variable} is missing`);
    },
  );

  test('when interpolated with the required secrets, then only the production secrets a service refuses to run without are left empty', () => {
    const mayBeEmpty = new Set(keys.flatMap((key) => Object.keys(productionSecrets[key])));
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {}))
        expect([name, variable, value.trim().length > 0 || mayBeEmpty.has(variable)]).toEqual([
          name,
          variable,
          true,
        ]);
    }
    const placeholders = JSON.stringify(compose.services).match(/\$\{?[A-Za-z_]/g);
    expect(placeholders).toBeNull();
  });

  test('when read as text, then no sandbox secret, default password or guest account appears in it', () => {
    for (const value of [
      SANDBOX_API_KEY,
      SANDBOX_IPN_SECRET,
      SANDBOX_DEVIN_API_KEY,
      'guest:guest',
      'postgres:postgres',
      'POSTGRES_PASSWORD: postgres',
    ])
      expect([value, composeText.includes(value)]).toEqual([value, false]);
  });

  test('when its networks and ports are listed, then only the gateway is published and the backend network has no way out', () => {
    const published = Object.entries(compose.services)
      .filter(([, service]) => service.ports !== undefined)
      .map(([name]) => name);
    expect(published).toEqual(['nginx']);
    expect(parsedCompose.networks.backend).toEqual({ internal: true });
    for (const [name, service] of Object.entries(compose.services))
      expect([name, service.networks?.includes('backend')]).toEqual([name, true]);
    // only what calls a provider, and the gateway, leaves the backend network
    const outside = Object.entries(compose.services)
      .filter(([, service]) => service.networks?.some((n) => n !== 'backend'))
      .map(([name]) => name)
      .sort();
    expect(outside).toEqual(['brain-service', 'nginx', 'payment-service']);
  });

  test('when the servers are published for npm start on the host, then only on the loopback address', () => {
    const file = path.join(root, 'infra/docker/compose.servers.yml');
    const override = (existsSync(file) ? parse(readFileSync(file, 'utf8')) : {}) as {
      services?: Record<string, ComposeService>;
    };
    expect(Object.keys(override.services ?? {}).sort()).toEqual(['postgres', 'rabbitmq']);
    for (const [name, service] of Object.entries(override.services ?? {}))
      for (const port of service.ports ?? [])
        expect([name, port]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:\d+:\d+$/)]);
  });

  test('when the sandboxes and EventStoreDB are described, then they run only in their profiles', () => {
    expect(compose.services['nowpayments-sandbox']!.profiles).toEqual(['sandbox']);
    expect(compose.services['devin-sandbox']!.profiles).toEqual(['sandbox']);
    expect(compose.services.eventstore!.profiles).toEqual(['eventstore']);
    for (const name of [
      'postgres',
      'rabbitmq',
      'user-service',
      'payment-service',
      'brain-service',
      'nginx',
    ])
      expect([name, compose.services[name]!.profiles]).toEqual([name, undefined]);
  });

  const initScriptPath = path.join(root, 'infra/docker/postgres-init.sh');
  const initScript = existsSync(initScriptPath) ? readFileSync(initScriptPath, 'utf8') : '';

  test.each(keys)(
    'when the %s service is described, then its variables, own accounts, database and checks match the code',
    (key) => {
      const { name, port } = services[key];
      const service = compose.services[name]!;
      const environment = service.environment ?? {};
      // production is what the config refuses most in: the loader below checks that too
      expect(environment.NODE_ENV).toBe('production');
      expect(environment.PORT).toBe(String(port));
      expect(environment.HOST).toBe('0.0.0.0');
      // every variable set is one the service reads (no typos)
      const known = Object.keys(schemas[key].shape);
      for (const variable of Object.keys(environment))
        expect([variable, known.includes(variable)]).toEqual([variable, true]);
      // its own broker user and database role, with the passwords compose was given
      const upper = key.toUpperCase() as 'PAYMENT' | 'USER' | 'BRAIN';
      expect(environment.RABBITMQ_URL).toBe(
        `amqp://${rabbitmqUser(key)}:${requiredSecrets[`${upper}_RABBITMQ_PASSWORD`]}@rabbitmq:5672`,
      );
      expect(environment.DATABASE_URL).toBe(
        `postgres://${postgresRole(key)}:${requiredSecrets[`${upper}_DB_PASSWORD`]}@postgres:5432/${postgresRole(key)}`,
      );
      expect(databaseName(environment.DATABASE_URL!)).toBe(postgresRole(key));
      expect(compose.services.postgres!.environment?.[`${upper}_DB_PASSWORD`]).toBe(
        requiredSecrets[`${upper}_DB_PASSWORD`],
      );
      expect(initScript).toContain('for service in payment user brain; do');
      expect(initScript).toContain('-v role="meetmatt_$service"');
      expect(initScript).toContain('CREATE DATABASE :"role" OWNER :"role";');
      // without its real secrets it refuses to start, naming what is missing; with them it runs
      const missing = Object.keys(productionSecrets[key])[0]!;
      expect(refusal(() => loaders[key](environment))).toContain(
        `Invalid configuration: ${missing} is missing`,
      );
      expect(refusal(() => loaders[key]({ ...environment, ...productionSecrets[key] }))).toBe('');
      expect(service.depends_on).toMatchObject({
        postgres: { condition: 'service_healthy' },
        rabbitmq: { condition: 'service_healthy' },
      });
      expect(JSON.stringify(service.healthcheck?.test)).toContain(`:${port}/readyz`);
      // built from a multi-stage Dockerfile, for this service, that runs as a non-root user
      const dockerfile = path.join(root, service.build!.context, service.build!.dockerfile);
      expect(existsSync(dockerfile)).toBe(true);
      expect(service.build!.args).toEqual({ SERVICE: name, PORT: environment.PORT });
      const image = dockerfileStages(path.relative(root, dockerfile), service.build!.args!);
      expect(image.length).toBeGreaterThanOrEqual(2);
      const runtime = image.at(-1)!;
      expect(instructionsOf(runtime, 'USER').map((i) => i.args)).toEqual(['node']);
      expect(instructionsOf(runtime, 'HEALTHCHECK')).toHaveLength(1);
      expect(containerEnv(runtime).PORT).toBe(String(port));
      // built from its TypeScript by scripts/build.js, run as JavaScript
      const bundling = instructionsOf(image[0]!, 'RUN').find((i) =>
        i.args.startsWith('node scripts/build.js'),
      );
      expect(shellArgv(bundling!)).toEqual(['node', 'scripts/build.js', name, 'cli']);
      expect(instructionsOf(runtime, 'COPY').map((i) => i.args)).toContain(
        `--from=build /app/${name}/dist ./${name}/dist`,
      );
    },
  );

  test.each(keys)(
    'when the broker starts, then the %s service’s user gets exactly the permissions npm start gives it',
    (key) => {
      const scriptPath = path.join(root, 'infra/docker/rabbitmq-entrypoint.sh');
      const script = existsSync(scriptPath) ? readFileSync(scriptPath, 'utf8') : '';
      const user = rabbitmqUser(key);
      const { configure, write, read } = rabbitmqPermissions(key);
      expect(script).toContain(`account ${user} "$${key.toUpperCase()}_RABBITMQ_PASSWORD"`);
      expect(script).toContain(
        `rabbitmqctl set_permissions -p / ${user} '${configure}' '${write}' '${read}' >/dev/null`,
      );
      for (const topic of rabbitmqTopicPermissions(key))
        expect(script).toContain(
          `rabbitmqctl set_topic_permissions -p / ${user} ${topic.exchange} '${topic.write}' '${topic.read}' >/dev/null`,
        );
      expect(script.match(new RegExp(`set_permissions -p / ${user} `, 'g'))).toHaveLength(1);
      // guest goes, and no password is ever on a command line
      expect(script).toContain('rabbitmqctl delete_user guest');
      expect(script).toMatch(/printf '%s\\n' "\$2" \| rabbitmqctl add_user "\$1"/);
      const rabbitmq = compose.services.rabbitmq!;
      expect(rabbitmq.entrypoint).toEqual(['/bin/sh', '/etc/meetmatt/rabbitmq-entrypoint.sh']);
      expect(rabbitmq.volumes).toContain(
        './infra/docker/rabbitmq-entrypoint.sh:/etc/meetmatt/rabbitmq-entrypoint.sh:ro',
      );
    },
  );
});

describe('each service under NODE_ENV=production', () => {
  /** A service's compose environment with its real secrets, then `change` on top. */
  function productionEnv(key: ServiceKey, change: Record<string, string | undefined>) {
    const environment: Record<string, string | undefined> = {
      ...compose.services[services[key].name]!.environment,
      ...productionSecrets[key],
      ...change,
    };
    return environment;
  }

  test.each([
    ['payment', 'NOWPAYMENTS_API_KEY', SANDBOX_API_KEY],
    ['payment', 'NOWPAYMENTS_IPN_SECRET', SANDBOX_IPN_SECRET],
    ['brain', 'DEVIN_API_KEY', SANDBOX_DEVIN_API_KEY],
  ] as const)(
    'when the %s service is given the sandbox or a well-known value as %s, then it refuses to start naming it',
    (key, variable, value) => {
      const message = refusal(() => loaders[key](productionEnv(key, { [variable]: value })));
      expect(message).toMatch(new RegExp(`^Invalid configuration: ${variable} is \\(hidden\\): `));
      expect(message).not.toContain(value);
    },
  );

  test.each(keys)(
    'when the %s service is given the guest broker account or the postgres superuser, then it refuses to start',
    (key) => {
      expect(
        refusal(() =>
          loaders[key](productionEnv(key, { RABBITMQ_URL: 'amqp://guest:guest@rabbitmq:5672' })),
        ),
      ).toMatch(/^Invalid configuration: RABBITMQ_URL is "amqp:\/\/guest:\*\*\*@rabbitmq:5672"/);
      expect(
        refusal(() =>
          loaders[key](
            productionEnv(key, {
              DATABASE_URL: `postgres://postgres:postgres@postgres:5432/meetmatt_${key}`,
            }),
          ),
        ),
      ).toMatch(/^Invalid configuration: DATABASE_URL is .*refused when NODE_ENV=production/);
    },
  );

  test('when the user service would keep its signing key in the database, then production refuses it', () => {
    expect(
      refusal(() =>
        loadUserConfig(productionEnv('user', { AUTH_SIGNING_KEYS_FROM_DATABASE: 'true' })),
      ),
    ).toMatch(/^Invalid configuration: AUTH_SIGNING_KEYS_FROM_DATABASE is \S+: refused/);
    expect(
      refusal(() => loadUserConfig(productionEnv('user', { AUTH_SIGNING_KEYS: undefined }))),
    ).toMatch(/^Invalid configuration: AUTH_SIGNING_KEYS is missing: required/);
  });

  test('when the signing key comes as PEM, as one JWK or from a file, then the user service loads it with a stable kid', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const fromPem = loadUserConfig(productionEnv('user', { AUTH_SIGNING_KEYS: pem }));
    const jwk = privateKey.export({ format: 'jwk' });
    expect(fromPem.AUTH_SIGNING_KEYS?.keys).toEqual([
      expect.objectContaining({
        kty: 'OKP',
        crv: 'Ed25519',
        x: jwk.x,
        d: jwk.d,
        kid: expect.any(String),
      }),
    ]);
    const fromJwk = loadUserConfig(
      productionEnv('user', { AUTH_SIGNING_KEYS: JSON.stringify(jwk) }),
    );
    expect(fromJwk.AUTH_SIGNING_KEYS?.keys[0]?.kid).toBe(fromPem.AUTH_SIGNING_KEYS?.keys[0]?.kid);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'meetmatt-signing-'));
    try {
      const file = path.join(dir, 'signing-key.pem');
      writeFileSync(file, pem);
      const fromFile = loadUserConfig(
        productionEnv('user', { AUTH_SIGNING_KEYS: undefined, AUTH_SIGNING_KEYS_FILE: file }),
      );
      expect(fromFile.AUTH_SIGNING_KEYS).toEqual(fromPem.AUTH_SIGNING_KEYS);
      // and it signs: the ring built from it is the one tokens are issued with
      const ring = await buildKeyRing(fromFile.AUTH_SIGNING_KEYS!.keys);
      expect(ring.jwks.keys).toEqual([expect.objectContaining({ x: jwk.x, alg: 'EdDSA' })]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(
      refusal(() =>
        loadUserConfig(
          productionEnv('user', {
            AUTH_SIGNING_KEYS: rsa.export({ format: 'pem', type: 'pkcs8' }).toString(),
          }),
        ),
      ),
    ).toMatch(/AUTH_SIGNING_KEYS is \(hidden\): .*OKP/);
  });

  test.each(keys)(
    'when the %s service runs in development, then the local defaults still load',
    (key) => {
      expect(refusal(() => loaders[key]({}))).toBe('');
    },
  );
});

/** The body of the gateway's `location = <route> { ... }`, or '' when there is none. */
function locationBlock(route: string): string {
  const text = readFileSync(path.join(root, 'infra/gateway/locations.conf.template'), 'utf8');
  const start = text.indexOf(`location = ${route} {\n`);
  return start < 0 ? '' : text.slice(start, text.indexOf('\n}', start));
}

describe('docker-compose.yml: provider sandboxes', () => {
  const sandboxes = [
    {
      key: 'payment' as const,
      sandbox: 'nowpayments-sandbox',
      main: 'payment-service/src/nowpayments/sandbox-main.ts',
      portVariable: 'NOWPAYMENTS_SANDBOX_PORT' as const,
      stepVariable: 'NOWPAYMENTS_SANDBOX_STEP_MS' as const,
      urlVariable: 'NOWPAYMENTS_API_URL',
      realUrl: 'https://api.nowpayments.io/v1',
      secrets: { NOWPAYMENTS_API_KEY: SANDBOX_API_KEY, NOWPAYMENTS_IPN_SECRET: SANDBOX_IPN_SECRET },
    },
    {
      key: 'brain' as const,
      sandbox: 'devin-sandbox',
      main: 'brain-service/src/devin/sandbox-main.ts',
      portVariable: 'DEVIN_SANDBOX_PORT' as const,
      stepVariable: 'DEVIN_SANDBOX_STEP_MS' as const,
      urlVariable: 'DEVIN_API_URL',
      realUrl: 'https://api.devin.ai',
      secrets: { DEVIN_API_KEY: SANDBOX_DEVIN_API_KEY },
    },
  ];

  test.each(sandboxes)(
    'when the $sandbox is described, then it runs its sandbox main from the service image with no secret of its own in compose',
    ({ key, sandbox, main, portVariable, stepVariable }) => {
      const service = compose.services[sandbox]!;
      expect(service.build).toEqual(compose.services[services[key].name]!.build);
      // The bundle scripts/build.js makes of `main` in the service's image (no tsx there).
      const bundle = `${services[key].name}/dist/sandbox-main.js`;
      expect(service.command).toEqual(['node', '--enable-source-maps', bundle]);
      expect(existsSync(path.join(root, main))).toBe(true);
      expect(readFileSync(path.join(root, 'scripts/build.js'), 'utf8')).toContain(
        `sandbox: '${path.relative(services[key].name, main)}'`,
      );
      const port = systemDefaults[portVariable];
      const environment = service.environment ?? {};
      expect(environment).toEqual({
        HOST: '0.0.0.0',
        LOG_FORMAT: 'json',
        [portVariable]: String(port),
        [stepVariable]: String(systemDefaults[stepVariable]),
      });
      // every variable set is a key of the sandbox's config schema (no typos)
      const source = readFileSync(path.join(root, main), 'utf8');
      for (const variable of Object.keys(environment))
        expect([variable, new RegExp(`^\\s+${variable}: `, 'm').test(source)]).toEqual([
          variable,
          true,
        ]);
      expect(service.ports).toBeUndefined();
      expect(JSON.stringify(service.healthcheck?.test)).toContain(`127.0.0.1:${port}/healthz`);
    },
  );

  test.each(sandboxes)(
    'when nothing is said, then the $key service talks to the real provider and refuses to start without its real key',
    ({ key, urlVariable, realUrl, secrets }) => {
      const environment = compose.services[services[key].name]!.environment ?? {};
      expect(environment[urlVariable]).toBe(realUrl);
      expect(refusal(() => loaders[key](environment))).toMatch(
        new RegExp(`^Invalid configuration: ${Object.keys(secrets)[0]} is missing`),
      );
      expect(compose.services[services[key].name]!.depends_on).not.toHaveProperty(
        'nowpayments-sandbox',
      );
    },
  );

  test.each(sandboxes)(
    'when run in development against the $sandbox (profile sandbox), then the $key service uses the sandbox and the key it accepts',
    ({ key, sandbox, portVariable, urlVariable, secrets }) => {
      const url = `http://${sandbox}:${systemDefaults[portVariable]}`;
      const withSandbox = loadCompose({
        ...requiredSecrets,
        NODE_ENV: 'development',
        [urlVariable]: url,
      });
      const environment = withSandbox[services[key].name]!.environment ?? {};
      expect(environment[urlVariable]).toBe(url);
      expect(loaders[key](environment)).toMatchObject(secrets);
    },
  );

  test.each(sandboxes)(
    'when the sandbox’s keys are copied into a production run, then the $key service refuses them',
    ({ key, secrets }) => {
      const environment = {
        ...compose.services[services[key].name]!.environment,
        ...productionSecrets[key],
        ...secrets,
      };
      expect(refusal(() => loaders[key](environment))).toMatch(
        /is \(hidden\): is a sandbox or well-known value/,
      );
    },
  );

  test('when the NOWPayments sandbox sends an IPN, then it goes through the gateway to the webhook', () => {
    const payment = compose.services[services.payment.name]!.environment ?? {};
    const callback = new URL(payment.NOWPAYMENTS_IPN_CALLBACK_URL!);
    expect(callback.hostname).toBe('nginx');
    expect(callback.port).toBe(compose.services.nginx!.environment?.GATEWAY_LISTEN);
    expect(callback.pathname).toBe('/webhooks/nowpayments');
    expect(locationBlock('/webhooks/nowpayments')).toContain('proxy_pass http://payment_service;');
  });
});

describe('docker-compose.yml: the gateway (nginx)', () => {
  const gateway = compose.services.nginx!;
  const gatewayDir = path.join(root, 'infra', 'gateway');
  const templates = readdirSync(gatewayDir).filter((file) => file.endsWith('.template'));
  const script = readFileSync(path.join(gatewayDir, 'docker-entrypoint.sh'), 'utf8');
  const substituted = [
    ...(/^VARIABLES='([^']*)'/m.exec(script)?.[1] ?? '').matchAll(/\$\{(\w+)\}/g),
  ]
    .map((m) => m[1]!)
    .sort();

  const dockerfile = readFileSync(path.join(root, gateway.build?.dockerfile ?? ''), 'utf8');
  /** The image's ENV and ENTRYPOINT, from its Dockerfile. */
  const imageEnv = Object.fromEntries(
    [...(/^ENV ((?:[^\n\\]|\\\n)*)/m.exec(dockerfile)?.[1] ?? '').matchAll(/(\w+)=(\S+)/g)].map(
      (m) => [m[1]!, m[2]!],
    ),
  );
  const imageEntrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1] ?? 'null') as
    string[] | null;

  /** Where a file of this repository appears in the gateway image, through the Dockerfile's COPY. */
  function containerPath(file: string): string | undefined {
    for (const [, sources = '', target = ''] of dockerfile.matchAll(/^COPY ((?:\S+ )+)(\S+)$/gm)) {
      for (const source of sources.trim().split(' ')) {
        const pattern = new RegExp(
          `^${path.resolve(root, source).replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`,
        );
        if (pattern.test(file)) return path.posix.join(target, path.basename(file));
      }
    }
    return undefined;
  }

  test('when described, then it is built from the gateway Dockerfile, publishes GATEWAY_PORT and starts once the three services are healthy', () => {
    expect(gateway.build).toEqual({ context: '.', dockerfile: 'infra/gateway/Dockerfile' });
    expect(dockerfile).toMatch(/^FROM nginx:1\.\d+-alpine$/m);
    expect(gateway.image).toBeUndefined();
    expect(gateway.volumes).toBeUndefined();
    expect(gateway.ports).toEqual([`${GATEWAY_PORT}:8080`]);
    expect(loadCompose({ ...requiredSecrets, GATEWAY_PORT: '9090' }).nginx!.ports).toEqual([
      '9090:8080',
    ]);
    expect(gateway.environment?.GATEWAY_LISTEN).toBe('8080');
    expect(gateway.depends_on).toEqual({
      'user-service': { condition: 'service_healthy' },
      'payment-service': { condition: 'service_healthy' },
      'brain-service': { condition: 'service_healthy' },
    });
  });

  test('when it starts, then it runs the entrypoint in the image on every template in it', () => {
    const templatesDir = imageEnv.GATEWAY_TEMPLATES;
    expect(templatesDir).toBe('/etc/meetmatt/gateway');
    expect(templates.length).toBeGreaterThanOrEqual(4);
    for (const template of templates)
      expect(containerPath(path.join(gatewayDir, template))).toBe(`${templatesDir}/${template}`);
    const entrypoint = containerPath(path.join(gatewayDir, 'docker-entrypoint.sh'));
    expect(entrypoint).toBeDefined();
    expect(imageEntrypoint).toEqual(['/bin/sh', entrypoint]);
  });

  test('when its health is checked, then it asks the route the gateway answers itself', () => {
    expect(gateway.healthcheck?.test).toEqual([
      'CMD',
      'wget',
      '-q',
      '-O',
      '/dev/null',
      'http://127.0.0.1:8080/healthz',
    ]);
    expect(locationBlock('/healthz')).toContain('return 200 ');
  });

  test('when a template uses a placeholder, then the entrypoint substitutes, defaults and exports it', () => {
    const placeholders = [
      ...new Set(
        templates.flatMap((template) =>
          [
            ...readFileSync(path.join(gatewayDir, template), 'utf8').matchAll(
              /\$\{([A-Z0-9_]+)\}/g,
            ),
          ].map((m) => m[1]!),
        ),
      ),
    ].sort();
    expect(placeholders.length).toBeGreaterThan(10);
    expect(substituted).toEqual(placeholders);
    // the npm start renderer fills exactly the same set
    const npmStart = gatewayValues({
      listen: '8080',
      runDir: '/tmp/gateway',
      upstreams: { user: [], payment: [], brain: [] },
    });
    expect(Object.keys(npmStart).sort()).toEqual(placeholders);
    const defaulted = new Set([
      ...[...script.matchAll(/^: "\$\{(\w+):=/gm)].map((m) => m[1]),
      ...[...script.matchAll(/^(\w+)=/gm)].map((m) => m[1]),
    ]);
    const exported = new Set(/^export ((?:[^\n\\]|\\\n)*)/m.exec(script)?.[1]?.split(/[\s\\]+/));
    for (const placeholder of placeholders)
      expect([placeholder, defaulted.has(placeholder), exported.has(placeholder)]).toEqual([
        placeholder,
        true,
        true,
      ]);
  });

  test('when compose sets a gateway variable, then the entrypoint reads it with npm start’s default', () => {
    for (const variable of Object.keys(gateway.environment ?? {}))
      expect([
        variable,
        variable === 'GATEWAY_TEMPLATES' || substituted.includes(variable),
      ]).toEqual([variable, true]);
    expect(script).toContain('TEMPLATES=${GATEWAY_TEMPLATES:-/etc/meetmatt/gateway}');
    for (const variable of Object.keys(imageEnv))
      expect([
        variable,
        variable === 'GATEWAY_TEMPLATES' || substituted.includes(variable),
      ]).toEqual([variable, true]);
    expect(gateway.environment).toMatchObject({
      GATEWAY_USER_RATE: systemDefaults.GATEWAY_USER_RATE,
      GATEWAY_ADDRESS_RATE: systemDefaults.GATEWAY_ADDRESS_RATE,
      GATEWAY_AUTH_RATE: systemDefaults.GATEWAY_AUTH_RATE,
      // the same secret user-service checks on /auth/verify
      GATEWAY_SHARED_SECRET: compose.services['user-service']!.environment?.GATEWAY_SHARED_SECRET,
    });
  });
});

describe('.env.example', () => {
  const documented = new Set(
    [
      ...readFileSync(path.join(root, '.env.example'), 'utf8').matchAll(
        /^#?\s*([A-Z][A-Z0-9_]+)=/gm,
      ),
    ].map((m) => m[1]),
  );

  test.each(keys)('when the %s service reads a variable, then .env.example documents it', (key) => {
    const missing = Object.keys(schemas[key].shape).filter((v) => !documented.has(v));
    expect(missing).toEqual([]);
  });

  test('when docker-compose.yml reads a variable from the environment, then .env.example documents it', () => {
    const read = [...composeText.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
    expect([...new Set(read)].filter((v) => !documented.has(v))).toEqual([]);
  });

  test('when npm start reads a variable, then .env.example documents it', () => {
    const missing = Object.keys(systemConfigSchema.shape).filter((v) => !documented.has(v));
    expect(missing).toEqual([]);
  });
});
