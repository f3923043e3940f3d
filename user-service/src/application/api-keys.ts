import { randomUUID } from 'node:crypto';
import { type Principal } from '@meetmatt/infra';
import { initialApiKeyState } from '../domain/api-key';
import { type ApiKeyCommand, apiKeyDecider } from '../domain/api-key-decide';
import { streams } from '../domain/streams';
import { type Result } from './accounts';
import { runCommand } from './user-commands';
import { type UserDependencies } from './dependencies';
import { recentAuthOf } from './credentials';
import { newApiKey, sha256 } from './secrets';
import { activeApiKeys } from '../projections/api-key-queries';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

/**
 * Issues a key: its hash goes into `api_key_credentials`, its description into the event; the
 * key itself is in the answer only. It works once the read model has it, which is before the
 * answer (read-your-writes). Only a session whose password was checked recently may: the
 * decider is asked before anything is written, so a refusal leaves no trace.
 */
export async function createApiKey(
  deps: Pick<
    UserDependencies,
    'catalog' | 'config' | 'db' | 'now' | 'store' | 'waitForProjections'
  >,
  principal: Principal,
  userId: string,
  input: { name: string; expiresAt?: string | undefined },
): Promise<Result<ApiKeyView & { key: string }>> {
  const keyId = randomUUID();
  const { prefix, secret, key } = newApiKey();
  const now = deps.now().toISOString();
  const expiresAt = input.expiresAt ? new Date(input.expiresAt).toISOString() : null;
  const command: ApiKeyCommand = {
    type: 'CreateApiKey',
    keyId,
    userId,
    name: input.name,
    prefix,
    expiresAt,
    auth: await recentAuthOf(deps, principal),
    now,
  };
  const refused = apiKeyDecider.decide(command, initialApiKeyState());
  if (!Array.isArray(refused)) return { ok: false, error: refused };
  await deps.db
    .insertInto('api_key_credentials')
    .values({ key_id: keyId, prefix, secret_hash: sha256(secret), user_id: userId })
    .execute();
  const created = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: apiKeyDecider,
    streamId: streams.apiKey(keyId),
    userId,
    command,
  });
  if (!created.ok) {
    await deps.db.deleteFrom('api_key_credentials').where('key_id', '=', keyId).execute();
    return created;
  }
  await deps.waitForProjections(created.position);
  return {
    ok: true,
    value: {
      id: keyId,
      name: input.name,
      prefix,
      createdAt: now,
      lastUsedAt: null,
      expiresAt,
      key,
    },
  };
}

/** The user's keys that still work (not revoked), newest first, without their secrets. */
export async function listApiKeys(
  deps: Pick<UserDependencies, 'db' | 'usage'>,
  userId: string,
): Promise<ApiKeyView[]> {
  const rows = await activeApiKeys(deps.db, userId);
  return rows.map((row) => {
    const used = Math.max(
      row.last_used_at?.getTime() ?? 0,
      deps.usage.apiKeyLastUsed(row.id)?.getTime() ?? 0,
    );
    return {
      id: row.id,
      name: row.name,
      prefix: row.prefix,
      createdAt: row.created_at.toISOString(),
      lastUsedAt: used ? new Date(used).toISOString() : null,
      expiresAt: row.expires_at?.toISOString() ?? null,
    };
  });
}

/** Revokes a key: refused at once here, and the tokens handed out for it with it. */
export async function revokeApiKey(
  deps: Pick<
    UserDependencies,
    'apiKeys' | 'catalog' | 'now' | 'revocations' | 'store' | 'waitForProjections'
  >,
  userId: string,
  keyId: string,
): Promise<Result<void>> {
  const now = deps.now();
  const revoked = await runCommand({
    store: deps.store,
    catalog: deps.catalog,
    decider: apiKeyDecider,
    streamId: streams.apiKey(keyId),
    userId,
    command: { type: 'RevokeApiKey', userId, now: now.toISOString() },
  });
  if (!revoked.ok) return revoked;
  deps.apiKeys.drop(keyId);
  deps.revocations.add(keyId, now);
  await deps.waitForProjections(revoked.position);
  // A check between the first drop and the read model's update may have cached it again.
  deps.apiKeys.drop(keyId);
  return { ok: true, value: undefined };
}
