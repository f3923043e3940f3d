import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { type ServiceKey, services } from '@meetmatt/contracts';
import { databaseName } from '@meetmatt/infra';
import { paymentConfigSchema, loadPaymentConfig } from '@meetmatt/payment-service/config';
import { userConfigSchema, loadUserConfig } from '@meetmatt/user-service/config';
import { brainConfigSchema, loadBrainConfig } from '@meetmatt/brain-service/config';

const root = path.resolve(__dirname, '..', '..');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
}

const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, ComposeService>;
};

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
  test('when parsed, then it has the servers and the three services', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining([
        'postgres',
        'rabbitmq',
        'eventstore',
        'payment-service',
        'user-service',
        'brain-service',
      ]),
    );
    expect(compose.services.postgres!.image).toMatch(/^postgres:15/);
    expect(compose.services.rabbitmq!.image).toMatch(/^rabbitmq:3\.10-management/);
    expect(compose.services.eventstore!.environment).toMatchObject({ EVENTSTORE_INSECURE: 'true' });
  });

  test('when every container is listed, then each has a health check', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect([name, service.healthcheck?.test]).toEqual([name, expect.anything()]);
    }
  });

  const initSql = readFileSync(path.join(root, 'infra/docker/postgres-init.sql'), 'utf8');

  test.each(keys)(
    'when the %s service is described, then its port, variables, database and checks match the code',
    (key) => {
      const { name, port } = services[key];
      const service = compose.services[name]!;
      expect(service.ports).toContain(`${port}:${port}`);
      const environment = service.environment ?? {};
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
