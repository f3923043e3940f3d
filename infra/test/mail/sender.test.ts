import { randomUUID } from 'node:crypto';
import { type Kysely } from 'kysely';
import { type Database, createDatabase } from '../../src/db/database';
import { type Mailer, type OutgoingMail } from '../../src/mail/mailer';
import { MailOutbox, type OutboxRow } from '../../src/mail/outbox';
import { type MailRenderer, MailSender } from '../../src/mail/sender';
import { sleep } from '../../src/runtime/backoff';
import { captureLogger } from '../../src/testing/capture-logger';
import { eventually } from '../../src/testing/eventually';
import { type TestDatabase, createTestDatabase } from '../../src/testing/resources';
import { migrateAll } from '../../src/runtime/service-host';

/** A mailer that refuses the mails to some addresses a number of times, and records the rest. */
class FlakyMailer implements Mailer {
  readonly sent: { mail: OutgoingMail; messageId: string }[] = [];
  constructor(private readonly failures: Map<string, number>) {}
  async send(mail: OutgoingMail, messageId: string): Promise<void> {
    const left = this.failures.get(mail.to) ?? 0;
    if (left > 0) {
      this.failures.set(mail.to, left - 1);
      throw new Error('421 try again later');
    }
    this.sent.push({ mail, messageId });
  }
  close(): void {}
}

/** The real outbox, counting its claims; `holdMs` keeps a round busy after its claim. */
class CountingOutbox extends MailOutbox {
  claims = 0;
  holdMs = 0;
  override async claim(limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const rows = await super.claim(limit, leaseMs);
    this.claims += 1;
    if (this.holdMs > 0) await sleep(this.holdMs);
    return rows;
  }
}

describe('the mail outbox and its sender (real PostgreSQL)', () => {
  let testDb: TestDatabase;
  let database: Database<unknown>;
  let db: Kysely<unknown>;
  let outbox: MailOutbox;

  beforeAll(async () => {
    testDb = await createTestDatabase('mail');
    database = createDatabase({ url: testDb.url, max: 3 });
    db = database.db;
    await migrateAll(db, {});
    outbox = new MailOutbox(db);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  const renderers: Record<string, MailRenderer> = {
    note: async (p) =>
      p.skip ? { skip: 'preferences' } : { to: String(p.to), subject: 'Hi', text: 'Hello' },
  };
  const sender = (mailer: Mailer, maxAttempts = 5) =>
    new MailSender({
      outbox,
      mailer,
      renderers,
      logger: captureLogger('mail').logger,
      pollIntervalMs: 20,
      retryMinMs: 10,
      retryMaxMs: 50,
      maxAttempts,
    });

  test('when a mail is queued twice under one key, then it is sent once, with that key as Message-ID', async () => {
    const key = `k-${randomUUID()}`;
    const to = `${randomUUID()}@example.com`;
    expect(await outbox.enqueue([{ key, kind: 'note', payload: { to } }])).toBe(1);
    expect(await outbox.enqueue([{ key, kind: 'note', payload: { to } }])).toBe(0);
    const mailer = new FlakyMailer(new Map());
    const s = sender(mailer);
    s.start();
    await eventually('sent', async () => (await outbox.get(key))?.state === 'sent');
    await s.stop();
    expect(mailer.sent.filter((m) => m.mail.to === to)).toEqual([
      expect.objectContaining({ messageId: key }),
    ]);
  });

  test('when the SMTP server refuses a mail, then it is retried with backoff and the mails behind it still go', async () => {
    const flaky = `${randomUUID()}@example.com`;
    const fine = `${randomUUID()}@example.com`;
    const [k1, k2] = [`k-${randomUUID()}`, `k-${randomUUID()}`];
    await outbox.enqueue([
      { key: k1, kind: 'note', payload: { to: flaky } },
      { key: k2, kind: 'note', payload: { to: fine } },
    ]);
    const mailer = new FlakyMailer(new Map([[flaky, 2]]));
    const s = sender(mailer);
    s.start();
    await eventually('both sent', async () => {
      const [a, b] = await Promise.all([outbox.get(k1), outbox.get(k2)]);
      return a?.state === 'sent' && b?.state === 'sent' ? { a, b } : false;
    });
    await s.stop();
    const row = await outbox.get(k1);
    expect(row).toMatchObject({ state: 'sent', attempts: 3 });
    expect(mailer.sent.map((m) => m.mail.to).indexOf(fine)).toBeLessThan(
      mailer.sent.map((m) => m.mail.to).indexOf(flaky),
    );
  });

  test('when a mail keeps failing, then it is given up after the last attempt; a renderer saying skip sends nothing', async () => {
    const dead = `${randomUUID()}@example.com`;
    const [k1, k2] = [`k-${randomUUID()}`, `k-${randomUUID()}`];
    await outbox.enqueue([
      { key: k1, kind: 'note', payload: { to: dead } },
      { key: k2, kind: 'note', payload: { to: dead, skip: true } },
    ]);
    const mailer = new FlakyMailer(new Map([[dead, 100]]));
    const s = sender(mailer, 3);
    s.start();
    await eventually('given up', async () => (await outbox.get(k1))?.state === 'failed');
    await s.stop();
    expect(await outbox.get(k1)).toMatchObject({ attempts: 3, last_error: '421 try again later' });
    expect(await outbox.get(k2)).toMatchObject({ state: 'skipped' });
    expect(mailer.sent.filter((m) => m.mail.to === dead)).toHaveLength(0);
  });

  /** A sender that would wait a minute between rounds unless poked. */
  const idleSender = (counting: CountingOutbox, mailer: Mailer) =>
    new MailSender({
      outbox: counting,
      mailer,
      renderers,
      logger: captureLogger('mail').logger,
      pollIntervalMs: 60_000,
      retryMinMs: 10,
      retryMaxMs: 50,
      maxAttempts: 5,
    });

  test('when a mail is queued and poked while a round is still busy after its claim, then it goes at once, not a pause later', async () => {
    const counting = new CountingOutbox(db);
    const mailer = new FlakyMailer(new Map());
    const s = idleSender(counting, mailer);
    counting.holdMs = 300;
    s.start();
    try {
      await eventually('the first claim', () => counting.claims >= 1);
      // The round has claimed (nothing) and is still busy: the mail comes after its claim.
      const key = `k-${randomUUID()}`;
      await outbox.enqueue([{ key, kind: 'note', payload: { to: `${randomUUID()}@example.com` } }]);
      s.poke();
      counting.holdMs = 0;
      await eventually('sent', async () => (await outbox.get(key))?.state === 'sent', 5_000);
    } finally {
      await s.stop();
    }
  });

  test('when it is poked over and over while pausing, then each pause ends with its wake: no sleep or timer is left behind and stop() is prompt', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const counting = new CountingOutbox(db);
    const s = idleSender(counting, new FlakyMailer(new Map()));
    s.start();
    try {
      await eventually('the first claim', () => counting.claims >= 1);
      await sleep(20); // in its pause: one timer of a minute
      const pausing = timers();
      for (let poke = 1; poke <= 20; poke += 1) {
        const before = counting.claims;
        s.poke();
        await eventually(`round ${poke + 1}`, () => counting.claims > before);
        await sleep(20); // back in its pause
      }
      // Twenty pauses cut short, each sleep gone with its pause (a sleep left running would keep
      // its minute-long timer, and a listener on the stop signal).
      expect(timers() - pausing).toBeLessThan(5);
      const stopping = Date.now();
      await s.stop();
      expect(Date.now() - stopping).toBeLessThan(1_000);
    } finally {
      await s.stop(); // again if the test failed before; a second stop changes nothing
    }
  });
});
