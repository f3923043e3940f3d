import { type CryptoKey, type JWK, exportJWK, generateKeyPair, importJWK } from 'jose';
import { type Kysely, sql } from 'kysely';
import { type Logger } from '@meetmatt/infra';
import { createHash, createPrivateKey, randomUUID } from 'node:crypto';
import { type PrivateSigningJwk } from '../config';
import { type UserDb } from '../database';

/** The keys access tokens are signed with: the newest signs, all are published. */
export interface KeyRing {
  kid: string;
  privateKey: CryptoKey;
  /** Public keys only, newest last, as served at /.well-known/jwks.json. */
  jwks: { keys: JWK[] };
}

/**
 * From AUTH_SIGNING_KEYS (or the file AUTH_SIGNING_KEYS_FILE names) when set: production
 * requires it, so the key lives in the secret store, never in the database a backup or a
 * read-only role can copy; rotated by adding a key at the end and, once tokens signed with the
 * old one have expired, removing it. Otherwise (development and tests only: the configuration
 * refuses it under NODE_ENV=production) a key generated at the first boot and kept in the
 * service's database, so every instance and every restart signs and verifies with the same key.
 */
export async function loadKeyRing(
  configured: { keys: PrivateSigningJwk[] } | undefined,
  db: Kysely<UserDb>,
  logger: Logger,
): Promise<KeyRing> {
  const privateJwks = configured?.keys ?? (await developmentKeys(db, logger));
  return buildKeyRing(privateJwks);
}

export async function buildKeyRing(privateJwks: readonly PrivateSigningJwk[]): Promise<KeyRing> {
  const newest = privateJwks[privateJwks.length - 1];
  if (!newest) throw new Error('no signing key');
  const privateKey = await importJWK({ ...newest, alg: 'EdDSA' }, 'EdDSA');
  if (privateKey instanceof Uint8Array) throw new Error('signing keys must be Ed25519 key pairs');
  return {
    kid: newest.kid,
    privateKey,
    jwks: {
      keys: privateJwks.map((k) => ({
        kty: k.kty,
        crv: k.crv,
        x: k.x,
        kid: k.kid,
        alg: 'EdDSA',
        use: 'sig',
      })),
    },
  };
}

/** A new Ed25519 private key as a JWK with a fresh kid (for AUTH_SIGNING_KEYS and tests). */
export async function generateSigningJwk(): Promise<PrivateSigningJwk> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...(jwk as PrivateSigningJwk), kid: randomUUID() };
}

async function developmentKeys(db: Kysely<UserDb>, logger: Logger): Promise<PrivateSigningJwk[]> {
  const read = async () =>
    (await db.selectFrom('signing_keys').select('private_jwk').orderBy('created_at').execute()).map(
      (row) => row.private_jwk as PrivateSigningJwk,
    );
  const existing = await read();
  if (existing.length > 0) return existing;
  const jwk = await generateSigningJwk();
  await db.transaction().execute(async (trx) => {
    // Two instances booting at once: the lock lets one generate, the other finds its key.
    await sql`SELECT pg_advisory_xact_lock(hashtext('user-service:signing-keys'))`.execute(trx);
    const row = await trx.selectFrom('signing_keys').select('kid').limit(1).executeTakeFirst();
    if (!row) {
      await trx
        .insertInto('signing_keys')
        .values({ kid: jwk.kid, private_jwk: JSON.stringify(jwk) })
        .execute();
      logger.warn(
        'generated a development signing key and stored it in the database; set AUTH_SIGNING_KEYS in production',
        { kid: jwk.kid },
      );
    }
  });
  return read();
}

/**
 * The text of AUTH_SIGNING_KEYS in any of the forms a secret store hands out: a JWKS
 * (`{"keys":[…]}`, oldest first), one private JWK, or one or more PKCS#8 PEM blocks (oldest
 * first; `openssl genpkey -algorithm ed25519`). A key without a kid gets its RFC 7638
 * thumbprint, so every instance names the same key the same way. The result is checked by the
 * configuration schema (Ed25519 only, a kid each).
 */
export function parseSigningKeys(text: string): { keys: unknown[] } {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    const blocks = trimmed.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
    if (blocks.length === 0) throw new Error('expected PEM blocks');
    return {
      keys: blocks.map((pem) => {
        let jwk: JWK;
        try {
          jwk = createPrivateKey(pem).export({ format: 'jwk' });
        } catch {
          throw new Error('expected a PKCS#8 private key in each PEM block');
        }
        return withKid(jwk);
      }),
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new Error('expected a JWKS {"keys":[…]}, one private JWK, or PEM');
  }
  if (parsed && typeof parsed === 'object' && 'keys' in parsed) {
    const keys = parsed.keys;
    return { keys: Array.isArray(keys) ? keys.map(withKid) : [] };
  }
  return { keys: [withKid(parsed)] };
}

function withKid(key: unknown): unknown {
  if (!key || typeof key !== 'object') return key;
  const jwk = key as JWK;
  if (jwk.kid || jwk.kty !== 'OKP' || typeof jwk.x !== 'string') return jwk;
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return { ...jwk, kid: createHash('sha256').update(canonical).digest('base64url') };
}
