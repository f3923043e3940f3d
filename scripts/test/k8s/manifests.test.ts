/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- manifests are YAML data, read by path; the assertions check what is read */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { services, systemEndpoints } from '@meetmatt/contracts';
import {
  SERVICE_DOCKERFILE,
  dockerfileStages,
  instructionsOf,
  shellArgv,
} from '../support/dockerfile';
import {
  NAMESPACE,
  SERVICES,
  admitted,
  containersOf,
  find,
  k8sDir,
  ofKind,
  overlayNames,
  podsOf,
  render,
  root,
  secretEnv,
  selects,
  type ValidationResult,
  validateWithModels,
} from './cluster';
import { type K8sObject, type Manifest } from './kustomize';

const overlays = overlayNames();

/** One child process validates every overlay's objects: each start costs seconds. */
let validation: Map<string, ValidationResult[]> | undefined;
function validated(): Map<string, ValidationResult[]> {
  if (!validation) {
    const all = overlays.flatMap((overlay) =>
      render(overlay).map((object) => ({ overlay, object })),
    );
    const results = validateWithModels(all.map((entry) => entry.object));
    validation = new Map(overlays.map((overlay) => [overlay, []]));
    results.forEach((result, index) => validation!.get(all[index]!.overlay)!.push(result));
  }
  return validation;
}
const CLUSTER_SCOPED = new Set(['Namespace']);

describe('infra/k8s overlays', () => {
  it('when the overlays are listed, then local, production and production with EventStoreDB are there', () => {
    expect(overlays).toEqual(['local', 'production', 'production-eventstore']);
  });

  it.each(overlays)(
    'when %s is rendered, then every object is named, in the meetmatt namespace and unique by kind and name',
    (overlay) => {
      const objects = render(overlay);
      expect(objects.length).toBeGreaterThan(20);
      const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(new Set(ids).size).toBe(ids.length);
      for (const o of objects) {
        expect(o.apiVersion).toMatch(/\S/);
        expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
        expect([o.kind, o.metadata.namespace]).toEqual(
          CLUSTER_SCOPED.has(o.kind) ? [o.kind, undefined] : [o.kind, NAMESPACE],
        );
      }
    },
  );

  it.each(overlays)(
    'when every object %s renders is validated against the Kubernetes API schemas, then none is invalid and only operator resources lack a model',
    (overlay) => {
      const results = validated().get(overlay)!;
      expect(results.filter((r) => r.status === 'invalid')).toEqual([]);
      const unmodelled = results.filter((r) => r.status === 'unmodelled').map((r) => r.id);
      for (const id of unmodelled) expect(id).toMatch(/^(postgresql\.cnpg\.io|rabbitmq\.com)\//);
      // The ExternalSecrets and the ServiceMonitor are validated by their own model packages.
      if (overlay !== 'local') {
        expect(results.filter((r) => r.id.startsWith('external-secrets.io/v1 ')).length).toBe(6);
        expect(results).toContainEqual({
          id: 'monitoring.coreos.com/v1 ServiceMonitor meetmatt-services',
          status: 'valid',
        });
      }
    },
    20_000,
  );
});

/**
 * The operators' resources have no schema package: every field used must be one their documented
 * API version has (CloudNativePG postgresql.cnpg.io/v1 ClusterSpec; RabbitMQ Cluster Operator and
 * Messaging Topology Operator rabbitmq.com/v1beta1). `true` = a leaf; an object = its fields.
 */
type Fields = { [field: string]: true | Fields };
const DOCUMENTED: Record<string, Fields> = {
  'postgresql.cnpg.io/v1 Cluster': {
    instances: true,
    imageName: true,
    primaryUpdateStrategy: true,
    enableSuperuserAccess: true,
    bootstrap: { initdb: { database: true, owner: true, secret: { name: true } } },
    postgresql: { parameters: true },
    storage: { size: true, storageClass: true },
    affinity: { enablePodAntiAffinity: true, topologyKey: true },
    resources: true,
  },
  'rabbitmq.com/v1beta1 RabbitmqCluster': {
    replicas: true,
    image: true,
    persistence: { storage: true, storageClassName: true },
    resources: true,
    rabbitmq: { additionalConfig: true, additionalPlugins: true },
  },
  'rabbitmq.com/v1beta1 User': {
    tags: true,
    rabbitmqClusterReference: { name: true },
    importCredentialsSecret: { name: true },
  },
  'rabbitmq.com/v1beta1 Permission': {
    vhost: true,
    userReference: { name: true },
    permissions: { configure: true, write: true, read: true },
    rabbitmqClusterReference: { name: true },
  },
  'rabbitmq.com/v1beta1 TopicPermission': {
    vhost: true,
    userReference: { name: true },
    permissions: { exchange: true, write: true, read: true },
    rabbitmqClusterReference: { name: true },
  },
};

function undocumented(value: unknown, fields: Fields, at: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, inner]) => {
    const known = fields[key];
    if (!known) return [`${at}.${key}`];
    return known === true ? [] : undocumented(inner, known, `${at}.${key}`);
  });
}

describe('operator resources', () => {
  const production = render('production');
  const operated = production.filter((o) =>
    /^(postgresql\.cnpg\.io|rabbitmq\.com)\//.test(o.apiVersion),
  );

  it('when the operators’ resources are checked, then each uses the documented API version and only its documented fields', () => {
    expect(operated.length).toBeGreaterThan(0);
    for (const o of operated) {
      const fields = DOCUMENTED[`${o.apiVersion} ${o.kind}`];
      expect([o.apiVersion, o.kind, fields ? 'documented' : 'unknown']).toEqual([
        o.apiVersion,
        o.kind,
        'documented',
      ]);
      expect(undocumented(o.spec, fields!, `${o.kind}/${o.metadata.name}.spec`)).toEqual([]);
    }
  });

  it('when the broker users are rendered, then each service has the permissions compose gives it', () => {
    const entrypoint = readFileSync(path.join(root, 'infra/docker/rabbitmq-entrypoint.sh'), 'utf8');
    for (const service of SERVICES) {
      const line = new RegExp(`set_permissions -p / ${service} '([^']*)' '([^']*)' '([^']*)'`).exec(
        entrypoint,
      );
      expect(line).not.toBeNull();
      const permission = find(production, 'Permission', service).spec as Manifest;
      expect(permission.permissions).toEqual({
        configure: line![1],
        write: line![2],
        read: line![3],
      });
      const topics = [
        ...entrypoint.matchAll(
          new RegExp(`set_topic_permissions -p / ${service} (\\S+) '([^']*)' '([^']*)'`, 'g'),
        ),
      ].map(([, exchange, write, read]) => ({ exchange, write, read }));
      const rendered = ofKind(production, 'TopicPermission')
        .filter((t) => (t.spec as Manifest).userReference.name === service)
        .map((t) => (t.spec as Manifest).permissions);
      expect(rendered).toEqual(topics);
      expect(
        (find(production, 'User', service).spec as Manifest).importCredentialsSecret.name,
      ).toBe(`${service}-rabbitmq-user`);
    }
  });
});

describe.each(overlays)('services in %s', (overlay) => {
  const objects = render(overlay);

  it.each(SERVICES)(
    'when %s’s Deployment is rendered, then it runs two replicas or more, non-root, read-only with /tmp on an emptyDir, with requests, limits, probes and a topology spread',
    (service) => {
      const deployment = find(objects, 'Deployment', service);
      const spec = deployment.spec as Manifest;
      expect(spec.replicas).toBeGreaterThanOrEqual(2);
      const pod = spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.topologySpreadConstraints.length).toBeGreaterThan(0);
      for (const constraint of pod.topologySpreadConstraints)
        expect(selects(constraint.labelSelector, spec.template.metadata.labels)).toBe(true);
      const container = containersOf(deployment)[0]!;
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      const tmp = container.volumeMounts.find((m: Manifest) => m.mountPath === '/tmp');
      expect(pod.volumes.find((v: Manifest) => v.name === tmp.name).emptyDir).toBeDefined();
      expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'])
        expect(container[probe].httpGet).toBeDefined();
    },
  );

  it.each(SERVICES)(
    'when %s is rendered, then its Service, PodDisruptionBudget and HorizontalPodAutoscaler act on exactly its serving pods',
    (service) => {
      const pods = podsOf(objects);
      const own = `Deployment/${service}`;
      const selected = (selector: Manifest) =>
        pods.filter((p) => selects(selector, p.labels)).map((p) => p.owner);
      expect(
        selected({ matchLabels: (find(objects, 'Service', service).spec as Manifest).selector }),
      ).toEqual([own]);
      const pdb = find(objects, 'PodDisruptionBudget', service).spec as Manifest;
      expect(selected(pdb.selector)).toEqual([own]);
      expect(pdb.minAvailable).toBe(1);
      const hpa = find(objects, 'HorizontalPodAutoscaler', service).spec as Manifest;
      expect(hpa.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: service,
      });
      expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas);
      const metrics = hpa.metrics.map((m: Manifest) => m.resource?.name ?? m.pods?.metric.name);
      expect(metrics).toEqual(overlay === 'local' ? ['cpu'] : ['cpu', 'http_requests_per_second']);
    },
  );

  it.each(SERVICES)(
    'when %s’s migrations run, then one Job runs its migrations with the same database secret as the service',
    (service) => {
      const job = find(objects, 'Job', `${service}-migrate`);
      const container = containersOf(job)[0]!;
      // The bundle scripts/build.js makes in the image's build stage, of this service's migrations.
      expect(container.command).toEqual([
        'node',
        '--enable-source-maps',
        `${service}/dist/migrate.js`,
      ]);
      const build = readFileSync(path.join(root, 'scripts/build.js'), 'utf8');
      expect(build).toContain("require('@meetmatt/${service}/migrations')");
      expect(build).toContain('`${target}/dist/migrate.js`');
      // The image: the one Dockerfile built for this service, whose build stage makes the bundle
      // and whose runtime stage holds it.
      const port = Object.values(services).find((s) => s.name === service)!.port;
      const image = dockerfileStages(SERVICE_DOCKERFILE, { SERVICE: service, PORT: String(port) });
      const bundling = instructionsOf(image[0]!, 'RUN').find((i) =>
        i.args.startsWith('node scripts/build.js'),
      );
      expect(shellArgv(bundling!)).toEqual(['node', 'scripts/build.js', service, 'cli']);
      expect(instructionsOf(image.at(-1)!, 'COPY').map((i) => i.args)).toContain(
        `--from=build /app/${service}/dist ./${service}/dist`,
      );
      const pkg = JSON.parse(readFileSync(path.join(root, service, 'package.json'), 'utf8'));
      expect(pkg.exports['./migrations']).toBe('./migrations/index.ts');
      const serving = containersOf(find(objects, 'Deployment', service))[0]!;
      expect(secretEnv(container).DATABASE_URL).toEqual(secretEnv(serving).DATABASE_URL);
      expect(container.image).toBe(serving.image);
      expect((job.spec as Manifest).template.spec.securityContext.runAsNonRoot).toBe(true);
    },
  );
});

/** The Secrets someone makes by hand, as README "Running on Kubernetes" says. */
function handMadeSecrets(readme: string): Map<string, Set<string>> {
  const made = new Map<string, Set<string>>();
  for (const [, name, args] of readme.matchAll(
    /kubectl -n meetmatt create secret generic (\S+)((?:[^\n]*\\\n)*[^\n]*)/g,
  )) {
    made.set(
      name!,
      new Set([...args!.matchAll(/--from-literal=([A-Za-z_]+)=/g)].map((m) => m[1]!)),
    );
  }
  return made;
}

/** The keys of the Secret CloudNativePG makes for a cluster's application user. */
const CNPG_APP_SECRET_KEYS = [
  'username',
  'password',
  'host',
  'port',
  'dbname',
  'uri',
  'jdbc-uri',
  'pgpass',
];

describe.each(overlays)('references in %s', (overlay) => {
  const objects = render(overlay);
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

  /** Where a Secret comes from and the keys it will hold. */
  function secretSource(name: string): { from: string; keys: string[] } | undefined {
    const external = ofKind(objects, 'ExternalSecret').find(
      (e) => ((e.spec as Manifest).target?.name ?? e.metadata.name) === name,
    );
    if (external)
      return {
        from: 'ExternalSecret',
        keys: Object.keys((external.spec as Manifest).target.template.data),
      };
    const cluster = ofKind(objects, 'Cluster').find((c) => `${c.metadata.name}-app` === name);
    if (cluster) return { from: 'CloudNativePG', keys: CNPG_APP_SECRET_KEYS };
    const byHand = handMadeSecrets(readme).get(name);
    if (byHand && overlay === 'local') return { from: 'README', keys: [...byHand] };
    return undefined;
  }

  it('when every ConfigMap and Secret a pod or operator resource refers to is looked up, then each has a source that holds the key', () => {
    const missing: string[] = [];
    for (const object of objects) {
      for (const container of containersOf(object)) {
        for (const from of container.envFrom ?? []) {
          if (
            from.configMapRef &&
            !objects.some(
              (o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef.name,
            )
          )
            missing.push(`${object.metadata.name}: ConfigMap ${from.configMapRef.name}`);
        }
        for (const variable of container.env ?? []) {
          const ref = variable.valueFrom?.secretKeyRef;
          if (!ref) continue;
          const source = secretSource(ref.name);
          if (!source?.keys.includes(ref.key) && !ref.optional)
            missing.push(`${object.metadata.name}: Secret ${ref.name} key ${ref.key}`);
        }
      }
      const imported = (object.spec as Manifest)?.importCredentialsSecret?.name;
      if (imported) {
        const keys = secretSource(imported)?.keys ?? [];
        if (!keys.includes('username') || !keys.includes('password'))
          missing.push(`${object.kind}/${object.metadata.name}: Secret ${imported}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('when the ingress sends the gateway secret to /auth/verify, then the headers ConfigMap it names is made by the README command', () => {
    const names = new Set(
      ofKind(objects, 'Ingress').flatMap((i) => {
        const value = (i.metadata as Manifest).annotations?.[
          'nginx.ingress.kubernetes.io/auth-proxy-set-headers'
        ];
        return value ? [value] : [];
      }),
    );
    expect([...names]).toEqual([`${NAMESPACE}/auth-verify-headers`]);
    expect(readme).toMatch(
      /kubectl -n meetmatt create configmap auth-verify-headers[^\n]*--from-literal=X-Gateway-Secret=/,
    );
  });
});

describe('network policies', () => {
  const api = (service: string) => `Deployment/${service}`;
  const migrate = (service: string) => `Job/${service}-migrate`;

  it.each(overlays)(
    'when %s’s NetworkPolicies are evaluated, then the services admit only the ingress controller, Prometheus and (for the JWKS) the other services',
    (overlay) => {
      const objects = render(overlay);
      expect(
        ofKind(objects, 'NetworkPolicy').some(
          (p) =>
            Object.keys((p.spec as Manifest).podSelector).length === 0 &&
            !(p.spec as Manifest).ingress,
        ),
      ).toBe(true);
      const pods = podsOf(objects);
      for (const service of SERVICES) {
        const pod = pods.find((p) => p.owner === api(service))!;
        const result = admitted(objects, pod, pod.ports.http!);
        expect(result.fromNamespaces).toEqual(['ingress-nginx', 'monitoring']);
        const expected =
          service === 'user-service'
            ? [api('brain-service'), api('payment-service')]
            : service === 'payment-service' && overlay === 'local'
              ? ['Deployment/nowpayments-sandbox']
              : [];
        expect(result.fromPods).toEqual(expected);
      }
    },
  );

  it.each(['production', 'production-eventstore'])(
    'when %s’s NetworkPolicies are evaluated, then each database admits only its own service (and migration Job) and the broker only the services',
    (overlay) => {
      const objects = render(overlay);
      const pods = podsOf(objects);
      for (const service of SERVICES) {
        const db = pods.find(
          (p) => p.owner === `Cluster/meetmatt-${service.replace('-service', '')}-db`,
        )!;
        const result = admitted(objects, db, 5432);
        // Its own instances too: streaming replication between them.
        expect(result.fromPods).toEqual([db.owner, api(service), migrate(service)].sort());
        expect(result.fromNamespaces).toEqual(['cnpg-system']);
      }
      const broker = pods.find((p) => p.owner === 'RabbitmqCluster/meetmatt-rabbitmq')!;
      expect(admitted(objects, broker, 5672).fromPods).toEqual(SERVICES.map(api).sort());
      const eventstore = pods.find((p) => p.owner === 'StatefulSet/eventstore');
      if (overlay === 'production-eventstore')
        expect(admitted(objects, eventstore!, 2113).fromPods).toEqual(SERVICES.map(api).sort());
      else expect(eventstore).toBeUndefined();
    },
  );

  it('when local’s NetworkPolicies are evaluated, then PostgreSQL admits the services and their Jobs, RabbitMQ only the services', () => {
    const objects = render('local');
    const pods = podsOf(objects);
    const postgres = pods.find((p) => p.owner === 'StatefulSet/postgres')!;
    expect(admitted(objects, postgres, 5432).fromPods).toEqual(
      SERVICES.flatMap((s) => [api(s), migrate(s)]).sort(),
    );
    const rabbitmq = pods.find((p) => p.owner === 'StatefulSet/rabbitmq')!;
    expect(admitted(objects, rabbitmq, 5672).fromPods).toEqual(SERVICES.map(api).sort());
  });
});

/** The gateway's routes, read from its nginx templates. */
function gatewayRoutes() {
  const locations = readFileSync(path.join(root, 'infra/gateway/locations.conf.template'), 'utf8');
  const nginx = readFileSync(path.join(root, 'infra/gateway/nginx.conf.template'), 'utf8');
  const globalBody = /client_max_body_size (\S+);/.exec(nginx)![1]!;
  const routes: {
    path: string;
    exact: boolean;
    upstream: string;
    authenticated: boolean;
    zone?: string;
    body: string;
    buffering: boolean;
    readTimeout?: string;
  }[] = [];
  for (const [, exact, route, body] of locations.matchAll(
    /^location (=\s)?(\/\S*) \{\n([\s\S]*?)^\}/gm,
  )) {
    const upstream = /proxy_pass http:\/\/(\w+)/.exec(body!)?.[1];
    if (!upstream || route === '/_auth') continue;
    routes.push({
      path: route!,
      exact: Boolean(exact),
      upstream: upstream.replace(/_/g, '-'),
      authenticated: body!.includes('authenticated.conf'),
      zone: /limit_req zone=(\w+)/.exec(body!)?.[1],
      body: /client_max_body_size (\S+);/.exec(body!)?.[1] ?? globalBody,
      buffering: !body!.includes('proxy_buffering off'),
      readTimeout: /proxy_read_timeout (\S+);/.exec(body!)?.[1],
    });
  }
  return routes;
}

/** The gateway's default rates and bursts (scripts/src/lib/gateway.ts), by zone. */
function gatewayLimits() {
  const source = readFileSync(path.join(root, 'scripts/src/lib/gateway.ts'), 'utf8');
  const value = (name: string) => {
    const match = new RegExp(`${name}: [^\\n]*?\\?\\? '?(\\d+)`).exec(source);
    if (!match) throw new Error(`no default for ${name} in scripts/src/lib/gateway.ts`);
    return Number(match[1]);
  };
  const zone = (prefix: string) => ({
    rate: value(`GATEWAY_${prefix}_RATE`),
    burst: value(`GATEWAY_${prefix}_BURST`),
  });
  return {
    per_ip_auth: zone('AUTH'),
    per_ip_webhook: zone('WEBHOOK'),
    per_ip_api: zone('ADDRESS'),
  } as Record<string, { rate: number; burst: number }>;
}

describe.each(overlays)('ingress in %s', (overlay) => {
  const objects = render(overlay);
  const ingresses = ofKind(objects, 'Ingress');
  const annotations = (i: K8sObject) =>
    ((i.metadata as Manifest).annotations ?? {}) as Record<string, string>;
  const paths = ingresses.flatMap((ingress) =>
    (ingress.spec as Manifest).rules.flatMap((rule: Manifest) =>
      rule.http.paths.map((p: Manifest) => ({ ingress, ...p })),
    ),
  );

  it('when the Ingresses are compared with the nginx gateway, then every gateway route is served alike: service, auth, rate limit, body size, buffering', () => {
    const limits = gatewayLimits();
    const routes = gatewayRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(10);
    for (const route of routes) {
      const served = paths.find(
        (p) => p.path === route.path && p.pathType === (route.exact ? 'Exact' : 'Prefix'),
      );
      expect([route.path, served ? 'served' : 'missing']).toEqual([route.path, 'served']);
      const a = annotations(served.ingress);
      expect([route.path, served.backend.service.name]).toEqual([route.path, route.upstream]);
      expect([route.path, Boolean(a['nginx.ingress.kubernetes.io/auth-url'])]).toEqual([
        route.path,
        route.authenticated,
      ]);
      expect([route.path, a['nginx.ingress.kubernetes.io/proxy-body-size']]).toEqual([
        route.path,
        route.body,
      ]);
      // The per-address zone; the per-credential one has no ingress-nginx equivalent (README "Scaling").
      const zone = route.zone ?? (route.authenticated ? 'per_ip_api' : undefined);
      if (zone) {
        const rps = Number(a['nginx.ingress.kubernetes.io/limit-rps']);
        const multiplier = Number(a['nginx.ingress.kubernetes.io/limit-burst-multiplier']);
        expect([route.path, rps, rps * multiplier]).toEqual([
          route.path,
          limits[zone]!.rate,
          limits[zone]!.burst,
        ]);
      } else expect(a['nginx.ingress.kubernetes.io/limit-rps']).toBeUndefined();
      expect([route.path, a['nginx.ingress.kubernetes.io/proxy-buffering'] !== 'off']).toEqual([
        route.path,
        route.buffering,
      ]);
      if (route.readTimeout === '1h')
        expect(a['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('3600');
    }
    // Nothing served that the gateway does not serve.
    expect(paths.length).toBe(routes.length);
  });

  it('when a route is authenticated, then /auth/verify on user-service’s Service port checks it and its identity headers replace the client’s', () => {
    const authenticated = readFileSync(
      path.join(root, 'infra/gateway/authenticated.conf.template'),
      'utf8',
    );
    const identity = [
      ...authenticated.matchAll(/auth_request_set \$\w+ \$upstream_http_(\w+);/g),
    ].map(([, h]) =>
      h!
        .split('_')
        .map((w) => w[0]!.toUpperCase() + w.slice(1))
        .join('-'),
    );
    expect(identity).toEqual(expect.arrayContaining(['X-User-Id', 'X-User-Role']));
    const port = (find(objects, 'Service', 'user-service').spec as Manifest).ports[0].port;
    const checked = ingresses.filter((i) => annotations(i)['nginx.ingress.kubernetes.io/auth-url']);
    expect(checked.length).toBe(2);
    for (const ingress of checked) {
      const a = annotations(ingress);
      expect(a['nginx.ingress.kubernetes.io/auth-url']).toBe(
        `http://user-service.${NAMESPACE}.svc.cluster.local:${port}${'/auth/verify'}`,
      );
      const headers = a['nginx.ingress.kubernetes.io/auth-response-headers']!.split(',').map((h) =>
        h.trim(),
      );
      expect(headers).toEqual(expect.arrayContaining(identity));
    }
    for (const ingress of ingresses)
      expect((ingress.spec as Manifest).ingressClassName).toBe('nginx');
  });
});

describe('metrics and autoscaling', () => {
  it('when production’s autoscalers read a custom metric, then prometheus-adapter’s rule serves it from a series every service exports on /metrics', () => {
    const objects = render('production');
    const values = parse(
      readFileSync(path.join(k8sDir, 'overlays/production/prometheus-adapter-values.yaml'), 'utf8'),
    );
    const served = values.rules.custom.map((rule: Manifest) => {
      const series = /^(\w+)\{/.exec(rule.seriesQuery)![1]!;
      return {
        series,
        metric: series.replace(new RegExp(rule.name.matches), rule.name.as.replace('${1}', '$1')),
      };
    });
    const metricsSource = readFileSync(path.join(root, 'infra/src/metrics/metrics.ts'), 'utf8');
    for (const hpa of ofKind(objects, 'HorizontalPodAutoscaler')) {
      for (const metric of (hpa.spec as Manifest).metrics.filter(
        (m: Manifest) => m.type === 'Pods',
      )) {
        const rule = served.find((s: Manifest) => s.metric === metric.pods.metric.name);
        expect(rule).toBeDefined();
        expect(metricsSource).toContain(`'${rule.series}'`);
      }
    }
    const monitor = find(objects, 'ServiceMonitor', 'meetmatt-services').spec as Manifest;
    expect(monitor.endpoints).toEqual([
      expect.objectContaining({ port: 'http', path: systemEndpoints.metrics.path }),
    ]);
    for (const service of SERVICES)
      expect(
        selects(monitor.selector, find(objects, 'Service', service).metadata.labels ?? {}),
      ).toBe(true);
  });
});
