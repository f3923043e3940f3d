import { randomUUID } from 'node:crypto';
import { type Kysely } from 'kysely';
import { type Database, createDatabase, migrateAll } from '@meetmatt/infra';
import { type TestDatabase, createTestDatabase } from '@meetmatt/infra/testing';
import { migrations } from '../../migrations';
import { type PaymentFacts, recordPaymentOnce } from '../../src/application/payments';
import { type BrainDb } from '../../src/database';

const consumer = 'brain-service.payment-events';
let testDb: TestDatabase;
let database: Database<BrainDb>;
let db: Kysely<BrainDb>;

beforeAll(async () => {
  testDb = await createTestDatabase('brain_payments');
  database = createDatabase<BrainDb>({ url: testDb.url, max: 12 });
  db = database.db;
  await migrateAll(db as Kysely<unknown>, migrations);
});

afterAll(async () => {
  await database.close();
  await testDb.drop();
});

const agent = { name: 'Scout', instructions: 'Build a thing' };
const created = (paymentId: string, userId: string): PaymentFacts => ({
  paymentId,
  userId,
  status: 'pending',
  plan: 'starter',
  agent,
  autoDeploy: true,
  maxAcuLimit: 10,
});
const confirmed = (paymentId: string, userId: string): PaymentFacts => ({
  ...created(paymentId, userId),
  status: 'confirmed',
  maxAcuLimit: 12,
  confirmedAt: '2026-12-02T10:00:00.000Z',
});

const row = (paymentId: string) =>
  db
    .selectFrom('payments')
    .selectAll()
    .where('payment_id', '=', paymentId)
    .executeTakeFirstOrThrow();
const inboxRows = async (messageId: string) =>
  (
    await db
      .selectFrom('inbox' as never)
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('message_id' as never, '=', messageId as never)
      .executeTakeFirstOrThrow()
  ).n;

describe('recordPaymentOnce (real PostgreSQL)', () => {
  test('when a message is recorded twice, then the second is a duplicate and changes nothing', async () => {
    const [paymentId, userId, messageId] = [randomUUID(), randomUUID(), randomUUID()];
    expect(await recordPaymentOnce(db, consumer, messageId, created(paymentId, userId))).toBe(
      'processed',
    );
    const first = await row(paymentId);
    expect(first).toMatchObject({ status: 'pending', plan: 'starter', agent, max_acu_limit: 10 });
    // The same message id again, even with other facts: the inbox holds it, so nothing is written.
    expect(await recordPaymentOnce(db, consumer, messageId, confirmed(paymentId, userId))).toBe(
      'duplicate',
    );
    expect(await row(paymentId)).toEqual(first);
    expect(Number(await inboxRows(messageId))).toBe(1);
  });

  test('when the confirmation arrives before the creation, then the payment stays confirmed with both messages facts', async () => {
    const [paymentId, userId] = [randomUUID(), randomUUID()];
    await recordPaymentOnce(db, consumer, randomUUID(), confirmed(paymentId, userId));
    await recordPaymentOnce(db, consumer, randomUUID(), created(paymentId, userId));
    const payment = await row(paymentId);
    expect(payment.status).toBe('confirmed');
    expect(payment.confirmed_at?.toISOString()).toBe('2026-12-02T10:00:00.000Z');
    // A later message's budget wins (as before: the newest facts for the limit, the first plan).
    expect(payment.max_acu_limit).toBe(10);
    expect(payment.plan).toBe('starter');
    expect(payment.auto_deploy).toBe(true);
  });

  test('when a refund is recorded and a confirmation is redelivered under a new id, then it stays refunded', async () => {
    const [paymentId, userId] = [randomUUID(), randomUUID()];
    await recordPaymentOnce(db, consumer, randomUUID(), created(paymentId, userId));
    await recordPaymentOnce(db, consumer, randomUUID(), confirmed(paymentId, userId));
    await recordPaymentOnce(db, consumer, randomUUID(), { paymentId, userId, status: 'refunded' });
    await recordPaymentOnce(db, consumer, randomUUID(), confirmed(paymentId, userId));
    await recordPaymentOnce(db, consumer, randomUUID(), {
      paymentId,
      userId,
      status: 'refund_requested',
    });
    const payment = await row(paymentId);
    expect(payment.status).toBe('refunded');
    expect(payment.agent).toEqual(agent);
    expect(payment.confirmed_at?.toISOString()).toBe('2026-12-02T10:00:00.000Z');
  });

  test('when one message is delivered many times at once, then exactly one delivery records it', async () => {
    const [paymentId, userId, messageId] = [randomUUID(), randomUUID(), randomUUID()];
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        recordPaymentOnce(db, consumer, messageId, confirmed(paymentId, userId)),
      ),
    );
    expect(outcomes.filter((o) => o === 'processed')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(7);
    expect((await row(paymentId)).status).toBe('confirmed');
  });

  test('when several messages of one payment arrive at once, then the highest status wins', async () => {
    const [paymentId, userId] = [randomUUID(), randomUUID()];
    const facts: PaymentFacts[] = [
      created(paymentId, userId),
      { paymentId, userId, status: 'underpaid' },
      confirmed(paymentId, userId),
      { paymentId, userId, status: 'refund_requested' },
      { paymentId, userId, status: 'expired' },
    ];
    const outcomes = await Promise.all(
      facts.map((f) => recordPaymentOnce(db, consumer, randomUUID(), f)),
    );
    expect(outcomes).toEqual(facts.map(() => 'processed'));
    expect((await row(paymentId)).status).toBe('refund_requested');
  });
});
