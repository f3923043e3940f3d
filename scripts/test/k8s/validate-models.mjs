// Validates Kubernetes objects (a JSON array on stdin) against the API schemas the
// kubernetes-models packages carry, and prints one JSON result per object. A child process of
// manifests.test.ts: the packages are ES modules only, which jest's CommonJS runtime cannot load.
import { readFileSync } from 'node:fs';

/** API groups to the package carrying their models; the core group is kubernetes-models/v1. */
const PACKAGES = {
  'external-secrets.io': '@kubernetes-models/external-secrets',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  let specifier;
  if (group === '') specifier = `kubernetes-models/${version}`;
  else if (PACKAGES[group]) specifier = `${PACKAGES[group]}/${group}/${version}`;
  else if (group.endsWith('.k8s.io') || ['apps', 'batch', 'autoscaling', 'policy'].includes(group))
    specifier = `kubernetes-models/${group}/${version}`;
  else return undefined;
  try {
    const module = await import(specifier);
    return module[kind];
  } catch (error) {
    if (error.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || error.code === 'ERR_MODULE_NOT_FOUND')
      return null;
    throw error;
  }
}

const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const object of objects) {
  const id = `${object.apiVersion} ${object.kind} ${object.metadata?.name}`;
  const Model = await modelFor(object.apiVersion, object.kind);
  if (Model === undefined) results.push({ id, status: 'unmodelled' });
  else if (!Model) results.push({ id, status: 'invalid', error: 'unknown apiVersion or kind' });
  else {
    try {
      new Model(object).validate();
      results.push({ id, status: 'valid' });
    } catch (error) {
      results.push({ id, status: 'invalid', error: error.message });
    }
  }
}
process.stdout.write(JSON.stringify(results));
