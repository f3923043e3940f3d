import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { sleep } from '@meetmatt/infra';
import { type PaymentDb } from '../database';

export type Claim =
  /** This request holds the key: it calls the provider, with this payment id. */
  | { kind: 'claimed'; paymentId: string }
  /** The key's first request finished: its answer, to give back again. */
  | { kind: 'replay'; response: unknown }
  /** The key was used with another body. */
  | { kind: 'mismatch' }
  /** Another request holds the key and has not finished within the wait. */
  | { kind: 'in-progress' };

export interface IdempotencyOptions {
  /**
   * How long a claim holds the key. A request still pending after that (its process died
   * mid-call) gives way to the next request with the key, which reuses the same payment id.
   */
  leaseMs: number;
  /** How often a request waiting for another one with the same key looks again. */
  pollMs?: number;
}

/**
 * Idempotency-Key for POST /payments/create: one row per (user, key), claimed with an insert
 * that only one request can win (the primary key), before the provider is called. A request
 * that finds the key claimed waits for the first one's answer instead of calling NOWPayments a
 * second time. A request that fails releases the key, so a retry can try again.
 */
export class IdempotencyKeys {
  private readonly pollMs: number;

  constructor(
    private readonly db: Kysely<PaymentDb>,
    private readonly options: IdempotencyOptions,
  ) {
    this.pollMs = options.pollMs ?? 25;
  }

  async claim(userId: string, key: string, requestHash: string): Promise<Claim> {
    const deadline = Date.now() + this.options.leaseMs;
    for (;;) {
      const inserted = await this.db
        .insertInto('idempotency_keys')
        .values({
          user_id: userId,
          key,
          request_hash: requestHash,
          payment_id: randomUUID(),
          state: 'pending',
          response: null,
          lease_until: sql<Date>`now() + ${`${this.options.leaseMs} milliseconds`}::interval`,
        })
        .onConflict((oc) => oc.columns(['user_id', 'key']).doNothing())
        .returning('payment_id')
        .executeTakeFirst();
      if (inserted) return { kind: 'claimed', paymentId: inserted.payment_id };

      const row = await this.db
        .selectFrom('idempotency_keys')
        .select(['request_hash', 'state', 'response', 'payment_id'])
        .select(sql<boolean>`lease_until <= now()`.as('lapsed'))
        .where('user_id', '=', userId)
        .where('key', '=', key)
        .executeTakeFirst();
      if (!row) continue; // released between our insert and our read: try again
      if (row.request_hash !== requestHash) return { kind: 'mismatch' };
      if (row.state === 'done') return { kind: 'replay', response: row.response };
      if (row.lapsed) {
        const taken = await this.db
          .updateTable('idempotency_keys')
          .set({
            lease_until: sql<Date>`now() + ${`${this.options.leaseMs} milliseconds`}::interval`,
          })
          .where('user_id', '=', userId)
          .where('key', '=', key)
          .where('state', '=', 'pending')
          .where('lease_until', '<=', sql<Date>`now()`)
          .returning('payment_id')
          .executeTakeFirst();
        if (taken) return { kind: 'claimed', paymentId: taken.payment_id };
      }
      if (Date.now() > deadline) return { kind: 'in-progress' };
      await sleep(this.pollMs);
    }
  }

  /** Stores the answer the key gives from now on. */
  async complete(userId: string, key: string, response: unknown): Promise<void> {
    await this.db
      .updateTable('idempotency_keys')
      .set({ state: 'done', response: JSON.stringify(response) })
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .execute();
  }

  /** Gives the key back after a failure, so the client's retry can try again. */
  async release(userId: string, key: string): Promise<void> {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .where('state', '=', 'pending')
      .execute();
  }
}
