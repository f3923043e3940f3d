import { existsSync, readFileSync, readdirSync } from 'node:fs';
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
import { brainConfigSchema, loadBrainConfig } from '@meetmatt/brain-service/config';
import { SANDBOX_DEVIN_API_KEY } from '@meetmatt/brain-service/devin/sandbox-defaults';
import { gatewayValues } from '../src/lib/gateway';
import { loadSystemConfig } from '../src/lib/system-config';

const root = path.resolve(__dirname, '..', '..');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
}

type Environment = Record<string, string | undefined>;

/**
 * Compose's interpolation of `${X}`, `${X:-default}`, `${X-default}` and `$$`, applied to every
 * value as compose does after parsing. Any other form fails, so the test never guesses.
 */
function interpolate(text: string, environment: Environment): string {
  return text.replace(
    /\$\$|\$\{([^}]*)\}|\$([A-Za-z_]\w*)/g,
    (match, braced?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare !== undefined) return environment[bare] ?? '';
      const form = /^([A-Za-z_]\w*)(?:(:?-)([^$]*))?$/.exec(braced ?? '');
      if (!form) throw new Error(`docker-compose.yml: unsupported interpolation ${match}`);
      const [, name, operator, fallback = ''] = form;
      const value = environment[name!];
      if (operator === ':-') return value ? value : fallback;
      if (operator === '-') return value ?? fallback;
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

/** docker-compose.yml as compose sees it with `environment` as the shell's variables. */
function loadCompose(environment: Environment = {}): Record<string, ComposeService> {
  const parsed = parse(composeText, { merge: true }) as unknown;
  return (interpolateAll(parsed, environment) as { services: Record<string, ComposeService> })
    .services;
}

/** With nothing set: what `docker compose up` runs on a fresh machine. */
const compose = { services: loadCompose() };
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
    expect(compose.services.rabbitmq!.image).toMatch(/^rabbitmq:3\.10-management/);
    expect(compose.services.eventstore!.environment).toMatchObject({ EVENTSTORE_INSECURE: 'true' });
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

  test('when interpolated with nothing set, then every variable has a value and none is left', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {}))
        expect([name, variable, value.trim().length > 0]).toEqual([name, variable, true]);
    }
    const placeholders = JSON.stringify(compose.services).match(/\$\{?[A-Za-z_]/g);
    expect(placeholders).toBeNull();
  });

  const initSql = readFileSync(path.join(root, 'infra/docker/postgres-init.sql'), 'utf8');

  test.each(keys)(
    'when the %s service is described, then its port, variables, database and checks match the code',
    (key) => {
      const { name, port } = services[key];
      const service = compose.services[name]!;
      expect(service.ports).toContain(`${port}:${port}`);
      const environment = service.environment ?? {};
      // production is what the config refuses most in: the loader below checks that too
      expect(environment.NODE_ENV).toBe('production');
      expect(environment.PORT).toBe(String(port));
      expect(environment.HOST).toBe('0.0.0.0');
      expect(environment.RABBITMQ_URL).toContain('@rabbitmq:5672');
      // every variable set is one the service reads (no typos), and the whole set is valid
      const known = Object.keys(schemas[key].shape);
      for (const variable of Object.keys(environment))
        expect([variable, known.includes(variable)]).toEqual([variable, true]);
      expect(() => loaders[key](environment)).not.toThrow();
      // its database is created by the init script and reached through the postgres container
      expect(environment.DATABASE_URL).toContain('@postgres:5432/');
      expect(initSql).toContain(`CREATE DATABASE ${databaseName(environment.DATABASE_URL!)};`);
      expect(service.depends_on).toMatchObject({
        postgres: { condition: 'service_healthy' },
        rabbitmq: { condition: 'service_healthy' },
      });
      expect(JSON.stringify(service.healthcheck?.test)).toContain(`:${port}/readyz`);
      // built from a multi-stage Dockerfile that runs as a non-root user
      const dockerfile = path.join(root, service.build!.context, service.build!.dockerfile);
      expect(existsSync(dockerfile)).toBe(true);
      const text = readFileSync(dockerfile, 'utf8');
      expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
      expect(text).toMatch(/^USER node$/m);
      expect(text).toMatch(/^HEALTHCHECK /m);
      expect(text).toContain(`${name}/src/main.ts`);
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
  // `secrets`: the stand-ins each service config falls back to locally, which its sandbox accepts.
  const sandboxes = [
    {
      key: 'payment' as const,
      sandbox: 'nowpayments-sandbox',
      main: 'payment-service/src/nowpayments/sandbox-main.ts',
      portVariable: 'NOWPAYMENTS_SANDBOX_PORT' as const,
      stepVariable: 'NOWPAYMENTS_SANDBOX_STEP_MS' as const,
      urlVariable: 'NOWPAYMENTS_API_URL',
      secrets: { NOWPAYMENTS_API_KEY: SANDBOX_API_KEY, NOWPAYMENTS_IPN_SECRET: SANDBOX_IPN_SECRET },
      real: {
        NOWPAYMENTS_API_URL: 'https://api.nowpayments.io/v1',
        NOWPAYMENTS_API_KEY: 'real-nowpayments-key',
        NOWPAYMENTS_IPN_SECRET: 'real-ipn-secret',
      },
    },
    {
      key: 'brain' as const,
      sandbox: 'devin-sandbox',
      main: 'brain-service/src/devin/sandbox-main.ts',
      portVariable: 'DEVIN_SANDBOX_PORT' as const,
      stepVariable: 'DEVIN_SANDBOX_STEP_MS' as const,
      urlVariable: 'DEVIN_API_URL',
      secrets: { DEVIN_API_KEY: SANDBOX_DEVIN_API_KEY },
      real: { DEVIN_API_URL: 'https://api.devin.ai', DEVIN_API_KEY: 'real-devin-key' },
    },
  ];

  test.each(sandboxes)(
    'when the $sandbox is described, then it runs its sandbox main from the service image as npm start does',
    ({ key, sandbox, main, portVariable, stepVariable, secrets }) => {
      const service = compose.services[sandbox]!;
      expect(service.build).toEqual(compose.services[services[key].name]!.build);
      expect(service.command).toEqual(['node', '--import', 'tsx', main]);
      expect(existsSync(path.join(root, main))).toBe(true);
      const port = systemDefaults[portVariable];
      const environment = service.environment ?? {};
      expect(environment).toEqual({
        HOST: '0.0.0.0',
        LOG_FORMAT: 'json',
        [portVariable]: String(port),
        [stepVariable]: String(systemDefaults[stepVariable]),
        ...secrets,
      });
      // every variable set is a key of the sandbox's config schema (no typos)
      const source = readFileSync(path.join(root, main), 'utf8');
      for (const variable of Object.keys(environment))
        expect([variable, new RegExp(`^\\s+${variable}: `, 'm').test(source)]).toEqual([
          variable,
          true,
        ]);
      expect(service.ports).toEqual([`${port}:${port}`]);
      expect(JSON.stringify(service.healthcheck?.test)).toContain(`127.0.0.1:${port}/healthz`);
    },
  );

  test.each(sandboxes)(
    'when no provider key is given, then the $key service talks to the $sandbox with the key it accepts',
    ({ key, sandbox, portVariable, urlVariable, secrets }) => {
      const service = compose.services[services[key].name]!;
      const environment = service.environment ?? {};
      expect(environment[urlVariable]).toBe(`http://${sandbox}:${systemDefaults[portVariable]}`);
      expect(environment).toMatchObject(secrets);
      expect(compose.services[sandbox]!.environment).toMatchObject(secrets);
      expect(service.depends_on?.[sandbox]).toEqual({ condition: 'service_healthy' });
    },
  );

  test.each(sandboxes)(
    'when real provider settings are given, then the $key service uses them and the $sandbox keeps its own',
    ({ key, sandbox, real, secrets }) => {
      const withReal = loadCompose(real);
      const environment = withReal[services[key].name]!.environment ?? {};
      expect(environment).toMatchObject(real);
      expect(() => loaders[key](environment)).not.toThrow();
      // a real key is never handed to the sandbox
      expect(withReal[sandbox]!.environment).toMatchObject(secrets);
      expect(JSON.stringify(withReal[sandbox])).not.toMatch(/real-/);
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

  /** Where a file of this repository appears in the gateway container, through its volumes. */
  function containerPath(file: string): string | undefined {
    for (const volume of gateway.volumes ?? []) {
      const [source = '', target = '', mode] = volume.split(':');
      expect([volume, mode]).toEqual([volume, 'ro']);
      const hostPath = path.resolve(root, source);
      if (file === hostPath) return target;
      if (file.startsWith(`${hostPath}/`))
        return path.posix.join(target, path.relative(hostPath, file));
    }
    return undefined;
  }

  test('when described, then it publishes 8080 and starts once the three services are healthy', () => {
    expect(gateway.image).toMatch(/^nginx:[\d.]+-alpine$/);
    expect(gateway.ports).toEqual([`${GATEWAY_PORT}:8080`]);
    expect(gateway.environment?.GATEWAY_LISTEN).toBe('8080');
    expect(gateway.depends_on).toEqual({
      'user-service': { condition: 'service_healthy' },
      'payment-service': { condition: 'service_healthy' },
      'brain-service': { condition: 'service_healthy' },
    });
  });

  test('when it starts, then it runs the mounted entrypoint on every mounted template', () => {
    const templatesDir = gateway.environment?.GATEWAY_TEMPLATES;
    expect(templatesDir).toBe('/etc/meetmatt/gateway');
    expect(templates.length).toBeGreaterThanOrEqual(4);
    for (const template of templates)
      expect(containerPath(path.join(gatewayDir, template))).toBe(`${templatesDir}/${template}`);
    const entrypoint = containerPath(path.join(gatewayDir, 'docker-entrypoint.sh'));
    expect(entrypoint).toBeDefined();
    expect(gateway.entrypoint).toEqual(['/bin/sh', entrypoint]);
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
    expect(gateway.environment).toMatchObject({
      GATEWAY_USER_RATE: systemDefaults.GATEWAY_USER_RATE,
      GATEWAY_AUTH_RATE: systemDefaults.GATEWAY_AUTH_RATE,
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
});
