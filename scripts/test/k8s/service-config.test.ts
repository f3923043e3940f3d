/* eslint-disable @typescript-eslint/no-unsafe-call -- manifests are YAML data, read by path; the assertions check what is read */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { type z } from 'zod';
import { systemEndpoints } from '@meetmatt/contracts';
import { ConfigError } from '@meetmatt/infra';
import { brainConfigSchema, loadBrainConfig } from '@meetmatt/brain-service/config';
import { loadPaymentConfig, paymentConfigSchema } from '@meetmatt/payment-service/config';
import { loadUserConfig, userConfigSchema } from '@meetmatt/user-service/config';
import {
  SERVICES,
  type ServiceName,
  configMapEnv,
  containersOf,
  find,
  overlayNames,
  render,
  secretEnv,
} from './cluster';

const services: Record<
  ServiceName,
  { schema: z.ZodObject; load: (env: Record<string, string | undefined>) => unknown }
> = {
  'payment-service': { schema: paymentConfigSchema, load: loadPaymentConfig },
  'user-service': { schema: userConfigSchema, load: loadUserConfig },
  'brain-service': { schema: brainConfigSchema, load: loadBrainConfig },
};

/** What a real Secret would hold for a variable: a value of the right shape, never a default. */
function secretValue(service: ServiceName, variable: string): string {
  const password = randomBytes(18).toString('hex');
  const user = service.replace('-', '_');
  if (variable === 'DATABASE_URL') return `postgresql://${user}:${password}@db-rw:5432/meetmatt`;
  if (variable === 'RABBITMQ_URL') return `amqp://${service}:${password}@meetmatt-rabbitmq:5672`;
  if (variable === 'AUTH_SIGNING_KEYS') {
    const { privateKey } = generateKeyPairSync('ed25519');
    return JSON.stringify({ keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'k8s-test' }] });
  }
  return randomBytes(24).toString('hex');
}

/** The environment a container of `overlay` starts with, its Secrets filled as they would be. */
function containerEnv(overlay: string, service: ServiceName) {
  const objects = render(overlay);
  const [container] = containersOf(find(objects, 'Deployment', service));
  const fromConfigMap = configMapEnv(objects, container!);
  const secrets = secretEnv(container!);
  const fromSecrets = Object.fromEntries(
    Object.entries(secrets)
      // An optional reference the overlay's README commands leave out is not set.
      .filter(([, ref]) => !ref.optional)
      .map(([variable]) => [variable, secretValue(service, variable)]),
  );
  return {
    container: container!,
    fromConfigMap,
    secrets,
    env: { ...fromConfigMap, ...fromSecrets },
  };
}

/** Variables whose schema has no default: unset, the service cannot start whatever NODE_ENV. */
function withoutDefault(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([name]) => name);
}

describe.each(overlayNames())('service configuration in %s', (overlay) => {
  it.each(SERVICES)(
    'when %s starts with what its ConfigMap and Secret give it, then its config loads and every ConfigMap key is one of its variables',
    (service) => {
      const { schema, load } = services[service];
      const { env, fromConfigMap, secrets } = containerEnv(overlay, service);
      const variables = Object.keys(schema.shape);
      expect(Object.keys(fromConfigMap).filter((k) => !variables.includes(k))).toEqual([]);
      expect(Object.keys(secrets).filter((k) => !variables.includes(k))).toEqual([]);
      for (const variable of withoutDefault(schema)) expect(Object.keys(env)).toContain(variable);
      expect(() => load(env)).not.toThrow();
      expect(env.NODE_ENV).toBe(overlay === 'local' ? 'development' : 'production');
    },
  );

  it.each(SERVICES)(
    'when %s’s probes are rendered, then each names /healthz or /readyz on the port the service listens on, on every interface',
    (service) => {
      const { container, env } = containerEnv(overlay, service);
      const config = services[service].load(env) as { PORT: number; HOST: string };
      expect(config.HOST).toBe('0.0.0.0');
      const served = [systemEndpoints.healthz.path, systemEndpoints.readyz.path];
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const probe = container[kind].httpGet;
        expect(served).toContain(probe.path);
        const port =
          typeof probe.port === 'number'
            ? probe.port
            : container.ports.find((p: { name: string }) => p.name === probe.port)?.containerPort;
        expect([kind, port]).toEqual([kind, config.PORT]);
      }
      expect(container.readinessProbe.httpGet.path).toBe(systemEndpoints.readyz.path);
      expect(container.livenessProbe.httpGet.path).toBe(systemEndpoints.healthz.path);
    },
  );
});

describe.each(overlayNames().filter((o) => o !== 'local'))(
  'production secrets in %s',
  (overlay) => {
    it.each(SERVICES)(
      'when a variable %s takes from a Secret is missing, then the service refuses to start naming it',
      (service) => {
        const { load } = services[service];
        const { env, secrets } = containerEnv(overlay, service);
        expect(Object.keys(secrets).length).toBeGreaterThanOrEqual(3);
        for (const variable of Object.keys(secrets)) {
          const without = { ...env, [variable]: undefined };
          let error: unknown;
          try {
            load(without);
          } catch (caught) {
            error = caught;
          }
          expect(error).toBeInstanceOf(ConfigError);
          expect([variable, (error as ConfigError).variable]).toEqual([variable, variable]);
        }
      },
    );
  },
);
