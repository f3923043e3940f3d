import { type KeyObject, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';

/**
 * The NOWPayments IPN signature (EXTERNAL-APIS.md): lowercase hex HMAC-SHA512, keyed with the
 * trimmed IPN secret, over `JSON.stringify` of the parsed body with object keys sorted at every
 * depth. It is not computed over the bytes received, so a receiver must parse first, and a sort
 * of the top level alone breaks on the nested `fee` object of current bodies.
 */

const SIGNATURE_HEX = /^[0-9a-f]{128}$/i;

/** A copy of a parsed JSON value with every object's keys in sorted order; arrays keep theirs. */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (!isPlainObject(value)) return value;
  // fromEntries defines own properties, so a key named "__proto__" stays an ordinary key.
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeysDeep(value[key])]),
  );
}

/**
 * The exact text NOWPayments signs: compact JSON of the recursively key-sorted body, that is
 * `JSON.stringify(sortKeysDeep(body))`, written directly rather than through a sorted copy (the
 * webhook computes it for every IPN).
 */
export function canonicalIpnJson(body: unknown): string {
  const text = canonicalJson(body);
  if (text === undefined) throw new TypeError('an IPN body must be a JSON value');
  return text;
}

function canonicalJson(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    // As JSON.stringify does: what has no JSON form becomes null inside an array.
    return `[${value.map((item) => canonicalJson(item) ?? 'null').join(',')}]`;
  }
  if (!isPlainObject(value)) return JSON.stringify(value); // undefined for undefined and functions
  let text = '';
  for (const key of sortedKeys(value)) {
    const member = canonicalJson(value[key]);
    if (member === undefined) continue; // as JSON.stringify skips undefined and functions
    text += `${text ? ',' : ''}${JSON.stringify(key)}:${member}`;
  }
  return `{${text}}`;
}

/**
 * The keys in the order `JSON.stringify` writes an object built with sorted keys: array-index
 * keys ("0", "9", "10") first in numeric order, as every JavaScript object orders them, then the
 * others sorted. NOWPayments' own Node.js example signs exactly that.
 */
function sortedKeys(value: Record<string, unknown>): string[] {
  const keys = Object.keys(value).sort();
  const indices = keys.filter(isArrayIndex);
  if (indices.length === 0) return keys;
  indices.sort((a, b) => Number(a) - Number(b));
  return [...indices, ...keys.filter((key) => !isArrayIndex(key))];
}

function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4_294_967_295;
}

/** The HMAC key of an IPN secret (trimmed), made once; undefined for an empty secret. */
export function ipnKey(secret: string): KeyObject | undefined {
  const key = secret.trim();
  return key === '' ? undefined : createSecretKey(Buffer.from(key, 'utf8'));
}

/** Signs an IPN body the way NOWPayments does (the sandbox uses it; so can tests). */
export function signIpn(body: unknown, secret: string): string {
  const key = ipnKey(secret);
  if (key === undefined) throw new TypeError('the IPN secret is empty');
  return createHmac('sha512', key).update(canonicalIpnJson(body), 'utf8').digest('hex');
}

/**
 * True only when `signatureHeader` is the signature of `body` under `secret`. Anything else
 * (no header, several headers, wrong length, not hex, an empty secret) is simply false, and the
 * comparison of the digests takes the same time wherever they differ.
 */
export function verifyIpnSignature(
  body: unknown,
  signatureHeader: unknown,
  secret: string,
): boolean {
  let canonical: string;
  try {
    canonical = canonicalIpnJson(body);
  } catch {
    return false;
  }
  return verifyCanonicalIpn(canonical, signatureHeader, secret);
}

/** `verifyIpnSignature` for a body already in its canonical form (`canonicalIpnJson`). */
export function verifyCanonicalIpn(
  canonical: string,
  signatureHeader: unknown,
  secret: string | KeyObject | undefined,
): boolean {
  if (typeof signatureHeader !== 'string' || !SIGNATURE_HEX.test(signatureHeader)) return false;
  const key = typeof secret === 'string' ? ipnKey(secret) : secret;
  if (key === undefined) return false;
  const expected = createHmac('sha512', key).update(canonical, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(signatureHeader, 'hex'));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
