import { createHash } from 'node:crypto';

/**
 * The namespace of agent ids (UUID v5 of a payment id): a fixed, arbitrary UUID of ours. Never
 * change it: every agent id already given out was derived from it.
 */
export const AGENT_ID_NAMESPACE = '5d1f3b0e-8c2a-4e6f-9a47-2b9c6d0e1f53';

/** One payment, one agent: the agent's id is the UUID v5 of the payment id. */
export function agentIdFor(paymentId: string): string {
  return uuidV5(paymentId.toLowerCase(), AGENT_ID_NAMESPACE);
}

export function agentStreamId(agentId: string): string {
  return `agent-${agentId}`;
}

/** RFC 9562 name-based UUID, SHA-1 (version 5). */
export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`namespace ${namespace} is not a UUID`);
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const MAX_SLUG = 40;

/** URL-safe and repository-safe: lower case letters, digits and single dashes. */
export function slugFor(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_SLUG)
    .replace(/-+$/g, '');
  return slug || 'agent';
}

/**
 * The repository of an agent: always ours, `<owner>/<slug>-<8 hex of the id>`, so two agents
 * with the same name never share one. Customers never name it.
 */
export function defaultRepository(owner: string, slug: string, agentId: string): string {
  return `${owner}/${slug}-${agentId.replace(/-/g, '').slice(0, 8)}`;
}

/** What GitHub accepts as a repository name, less the `.` and `..` that only mean paths. */
const REPOSITORY_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * Whether Devin may work in `repository`: one of `owner`'s (GitHub owners compare without case),
 * with a plain name. Anything else, another owner or a path in disguise, is not ours.
 */
export function isOurRepository(repository: string, owner: string): boolean {
  const parts = repository.split('/');
  if (parts.length !== 2) return false;
  const [repoOwner, name] = parts as [string, string];
  return (
    repoOwner.toLowerCase() === owner.toLowerCase() &&
    REPOSITORY_NAME.test(name) &&
    name !== '.' &&
    name !== '..'
  );
}
