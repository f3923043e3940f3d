import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { type K8sObject, type Manifest, containersOf, kustomizeBuild } from './kustomize';

/** Helpers shared by the infra/k8s tests: the rendered overlays and what their objects mean. */

export const root = path.resolve(__dirname, '../../..');
export const k8sDir = path.join(root, 'infra/k8s');
export const NAMESPACE = 'meetmatt';
export const SERVICES = ['payment-service', 'user-service', 'brain-service'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const overlayNames = (): string[] =>
  readdirSync(path.join(k8sDir, 'overlays'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();

const cache = new Map<string, K8sObject[]>();
export function render(overlay: string): K8sObject[] {
  let objects = cache.get(overlay);
  if (!objects) {
    objects = kustomizeBuild(path.join(k8sDir, 'overlays', overlay));
    cache.set(overlay, objects);
  }
  return objects;
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

export const ofKind = (objects: K8sObject[], kind: string) =>
  objects.filter((o) => o.kind === kind);

export { containersOf };

/** The data of the ConfigMap a container takes its environment from (envFrom). */
export function configMapEnv(objects: K8sObject[], container: Record<string, Manifest>) {
  const data: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (!from.configMapRef) continue;
    Object.assign(data, find(objects, 'ConfigMap', from.configMapRef.name).data);
  }
  return data;
}

/** `NAME -> {secret, key}` for every variable a container reads from a Secret. */
export function secretEnv(container: Record<string, Manifest>) {
  const refs: Record<string, { name: string; key: string; optional?: boolean }> = {};
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) refs[variable.name] = ref;
  }
  return refs;
}

// --- label selectors and NetworkPolicies ---------------------------------------------------

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export function selects(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = key in labels;
    const ok =
      operator === 'In'
        ? has && values.includes(labels[key]!)
        : operator === 'NotIn'
          ? !has || !values.includes(labels[key]!)
          : operator === 'Exists'
            ? has
            : operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

export interface Pod {
  owner: string;
  labels: Record<string, string>;
  ports: Record<string, number>;
}

/** Every pod the overlay makes, workloads and the operators' (labels as the operators set them). */
export function podsOf(objects: K8sObject[]): Pod[] {
  const pods: Pod[] = [];
  for (const object of objects) {
    const template = (object.spec as Manifest)?.template;
    if (template?.metadata?.labels && containersOf(object).length) {
      const ports: Record<string, number> = {};
      for (const c of containersOf(object))
        for (const p of c.ports ?? []) if (p.name) ports[p.name] = p.containerPort;
      pods.push({
        owner: `${object.kind}/${object.metadata.name}`,
        labels: template.metadata.labels,
        ports,
      });
    }
    if (object.kind === 'Cluster' && object.apiVersion.startsWith('postgresql.cnpg.io/'))
      pods.push({
        owner: `Cluster/${object.metadata.name}`,
        labels: { 'cnpg.io/cluster': object.metadata.name },
        ports: { postgresql: 5432 },
      });
    if (object.kind === 'RabbitmqCluster')
      pods.push({
        owner: `RabbitmqCluster/${object.metadata.name}`,
        labels: { 'app.kubernetes.io/name': object.metadata.name },
        ports: { amqp: 5672 },
      });
  }
  return pods;
}

/**
 * The pods of this namespace that the NetworkPolicies let reach `target` on `port`, and the
 * other namespaces allowed in (by their kubernetes.io/metadata.name).
 */
export function admitted(objects: K8sObject[], target: Pod, port: number) {
  const pods = podsOf(objects);
  const fromPods = new Set<string>();
  const fromNamespaces = new Set<string>();
  const policies = ofKind(objects, 'NetworkPolicy').filter(
    (p) =>
      selects((p.spec as Manifest).podSelector, target.labels) ||
      Object.keys((p.spec as Manifest).podSelector ?? {}).length === 0,
  );
  for (const policy of policies) {
    for (const rule of (policy.spec as Manifest).ingress ?? []) {
      const ports: { port: number | string; endPort?: number }[] = rule.ports ?? [];
      const portMatches =
        ports.length === 0 ||
        ports.some((p) =>
          typeof p.port === 'string'
            ? target.ports[p.port] === port
            : p.endPort
              ? port >= p.port && port <= p.endPort
              : p.port === port,
        );
      if (!portMatches) continue;
      for (const peer of rule.from ?? []) {
        if (peer.namespaceSelector) {
          fromNamespaces.add(peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name']);
          continue;
        }
        for (const pod of pods) if (selects(peer.podSelector, pod.labels)) fromPods.add(pod.owner);
      }
    }
  }
  return { fromPods: [...fromPods].sort(), fromNamespaces: [...fromNamespaces].sort() };
}

// --- schema validation (kubernetes-models, ES modules: validated in a child process) ---------

export interface ValidationResult {
  id: string;
  status: 'valid' | 'invalid' | 'unmodelled';
  error?: string;
}

export function validateWithModels(objects: K8sObject[]): ValidationResult[] {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'validate-models.mjs')], {
    input: JSON.stringify(objects),
    encoding: 'utf8',
    cwd: root,
    timeout: 20_000,
  });
  return JSON.parse(out) as ValidationResult[];
}
