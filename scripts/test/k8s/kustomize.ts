/* eslint-disable @typescript-eslint/no-unsafe-return -- manifests are YAML data, read by path; the assertions check what is read */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * The part of kustomize that infra/k8s uses, so `npm test` renders every overlay on a machine
 * without the kustomize binary (neither npm nor Debian ship one): resources (files and
 * directories), components, namespace, labels (metadata only), images, configMapGenerator (envs,
 * literals, behavior merge, a content hash in the name and the references rewritten) and JSON 6902
 * patches with a kind/name target. Anything else in a kustomization fails loudly, so a manifest
 * never silently relies on a feature this renderer ignores. CI also runs the real kustomize
 * (.github/workflows/ci.yml).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see the file header
export type Manifest = any;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & Record<
    string,
    unknown
  >;
  [key: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  configMapGenerator?: {
    name: string;
    behavior?: 'create' | 'merge' | 'replace';
    envs?: string[];
    literals?: string[];
  }[];
  patches?: { target: { kind?: string; name?: string }; patch: string }[];
}

const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'components',
  'labels',
  'images',
  'configMapGenerator',
  'patches',
]);

/** Kinds that live outside a namespace: the namespace transformer leaves them alone. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'ClusterSecretStore',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
]);

/** A ConfigMap made by a generator: hashed into its name once the whole overlay is built. */
const generated = new WeakSet<K8sObject>();

function readKustomization(dir: string): Kustomization {
  const file = path.join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const k = docs[0]?.toJS() as Kustomization;
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: "${key}" is not supported by this renderer`);
  }
  return k;
}

function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

function parseEnv(text: string): Record<string, string> {
  const data: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`env line without a name: ${line}`);
    data[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return data;
}

function podSpecs(object: K8sObject): Record<string, unknown>[] {
  const spec = object.spec as Record<string, Manifest> | undefined;
  if (!spec) return [];
  if (object.kind === 'CronJob') return [spec.jobTemplate?.spec?.template?.spec].filter(Boolean);
  if (spec.template?.spec && typeof spec.template.spec === 'object') return [spec.template.spec];
  return [];
}

export function containersOf(object: K8sObject): Record<string, Manifest>[] {
  return podSpecs(object).flatMap((pod: Record<string, Manifest>) => [
    ...(pod.initContainers ?? []),
    ...(pod.containers ?? []),
  ]);
}

/** RFC 6901 pointer into `doc`; returns the parent and the last key. */
function locate(doc: unknown, pointer: string): [Record<string, unknown> | unknown[], string] {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = parts.pop();
  if (last === undefined) throw new Error(`bad patch path ${pointer}`);
  let node: Manifest = doc;
  for (const part of parts) {
    node = node?.[Array.isArray(node) ? Number(part) : part];
    if (node === undefined || node === null) throw new Error(`patch path ${pointer} not found`);
  }
  return [node, last];
}

function applyJsonPatch(object: K8sObject, ops: { op: string; path: string; value?: unknown }[]) {
  for (const { op, path: pointer, value } of ops) {
    const [parent, key] = locate(object, pointer);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (op === 'add') parent.splice(index, 0, value);
      else if (op === 'replace') {
        if (index >= parent.length) throw new Error(`replace: ${pointer} not found`);
        parent[index] = value;
      } else if (op === 'remove') {
        if (index >= parent.length) throw new Error(`remove: ${pointer} not found`);
        parent.splice(index, 1);
      } else throw new Error(`patch op ${op} not supported`);
    } else {
      if ((op === 'replace' || op === 'remove') && !(key in parent))
        throw new Error(`${op}: ${pointer} not found`);
      if (op === 'add' || op === 'replace') parent[key] = value;
      else if (op === 'remove') delete parent[key];
      else throw new Error(`patch op ${op} not supported`);
    }
  }
}

function matches(object: K8sObject, target: { kind?: string; name?: string }): boolean {
  if (target.kind && object.kind !== target.kind) return false;
  if (target.name && !new RegExp(`^(?:${target.name})$`).test(object.metadata.name)) return false;
  return true;
}

/** Applies one kustomization's own transformations to `objects` (in place, plus new ones). */
function transform(dir: string, k: Kustomization, objects: K8sObject[]): K8sObject[] {
  for (const gen of k.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const env of gen.envs ?? [])
      Object.assign(data, parseEnv(readFileSync(path.join(dir, env), 'utf8')));
    for (const literal of gen.literals ?? []) Object.assign(data, parseEnv(literal));
    const existing = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === gen.name);
    const behavior = gen.behavior ?? 'create';
    if (behavior === 'create') {
      if (existing) throw new Error(`${dir}: ConfigMap ${gen.name} already exists`);
      const configMap: K8sObject = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: gen.name },
        data,
      };
      generated.add(configMap);
      objects.push(configMap);
    } else {
      if (!existing) throw new Error(`${dir}: ConfigMap ${gen.name} to ${behavior} not found`);
      existing.data =
        behavior === 'merge' ? { ...(existing.data as Record<string, string>), ...data } : data;
    }
  }
  for (const patch of k.patches ?? []) {
    const ops = parseAllDocuments(patch.patch)[0]?.toJS() as unknown;
    if (!Array.isArray(ops)) throw new Error(`${dir}: only JSON 6902 patches are supported`);
    const targets = objects.filter((o) => matches(o, patch.target));
    if (!targets.length)
      throw new Error(`${dir}: patch target ${JSON.stringify(patch.target)} matches nothing`);
    for (const object of targets) applyJsonPatch(object, ops);
  }
  for (const image of k.images ?? []) {
    for (const object of objects) {
      for (const container of containersOf(object)) {
        const [name, tag] = String(container.image).split(':');
        if (name !== image.name) continue;
        container.image = `${image.newName ?? name}:${image.newTag ?? tag ?? 'latest'}`;
      }
    }
  }
  for (const { pairs } of k.labels ?? []) {
    for (const object of objects)
      object.metadata.labels = { ...(object.metadata.labels ?? {}), ...pairs };
  }
  if (k.namespace) {
    for (const object of objects)
      if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = k.namespace;
  }
  return objects;
}

function build(dir: string, expectedKind: 'Kustomization' | 'Component'): K8sObject[] {
  const k = readKustomization(dir);
  if ((k.kind ?? 'Kustomization') !== expectedKind)
    throw new Error(`${dir}: expected a ${expectedKind}, found ${k.kind}`);
  const objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const target = path.join(dir, resource);
    if (statSync(target).isDirectory()) objects.push(...build(target, 'Kustomization'));
    else objects.push(...readObjects(target));
  }
  if (expectedKind === 'Component') return transform(dir, k, objects);
  // A component acts on everything gathered so far, as kustomize does.
  for (const component of k.components ?? []) {
    const componentDir = path.join(dir, component);
    const ck = readKustomization(componentDir);
    if (ck.kind !== 'Component') throw new Error(`${componentDir}: not a Component`);
    for (const resource of ck.resources ?? [])
      objects.push(...readObjects(path.join(componentDir, resource)));
    transform(componentDir, { ...ck, resources: [] }, objects);
  }
  return transform(dir, k, objects);
}

function contentHash(object: K8sObject): string {
  const digest = createHash('sha256')
    .update(JSON.stringify({ kind: object.kind, name: object.metadata.name, data: object.data }))
    .digest('hex');
  // kustomize's alphabet: no vowels or look-alikes, ten characters.
  return [...digest.slice(0, 10)].map((c) => 'bcdfghkmt2456789'[parseInt(c, 16)]).join('');
}

/**
 * Renders the kustomization in `dir` as `kustomize build` would (for the features above):
 * generated ConfigMaps get a content hash in their name, and pod templates refer to it.
 */
export function kustomizeBuild(dir: string): K8sObject[] {
  const objects = build(dir, 'Kustomization');
  const renamed = new Map<string, string>();
  for (const object of objects) {
    if (!generated.has(object)) continue;
    const name = `${object.metadata.name}-${contentHash(object)}`;
    renamed.set(object.metadata.name, name);
    object.metadata.name = name;
  }
  for (const object of objects) {
    for (const pod of podSpecs(object) as Record<string, Manifest>[]) {
      for (const volume of pod.volumes ?? [])
        if (volume.configMap)
          volume.configMap.name = renamed.get(volume.configMap.name) ?? volume.configMap.name;
      for (const container of containersOf(object)) {
        for (const from of container.envFrom ?? [])
          if (from.configMapRef)
            from.configMapRef.name = renamed.get(from.configMapRef.name) ?? from.configMapRef.name;
        for (const variable of container.env ?? []) {
          const ref = variable.valueFrom?.configMapKeyRef;
          if (ref) ref.name = renamed.get(ref.name) ?? ref.name;
        }
      }
    }
  }
  return objects;
}
