import { randomUUID } from 'node:crypto';
import { captureLogger } from '@meetmatt/infra/testing';
import { UsageRecorder } from '../../src/application/usage-recorder';

/** A database whose transactions wait for the test to let them commit (or fail). */
function gatedDatabase() {
  let release!: (error?: Error) => void;
  let started!: () => void;
  const begun = new Promise<void>((resolve) => (started = resolve));
  const db = {
    transaction: () => ({
      execute: async () => {
        started();
        await new Promise<void>((resolve, reject) => {
          release = (error) => (error ? reject(error) : resolve());
        });
      },
    }),
  };
  return {
    db: db as never,
    begun,
    commit: () => release(),
    fail: () => release(new Error('gone')),
  };
}

describe('usage recorder', () => {
  test('when a flush is writing, then the uses it writes still show until it has committed', async () => {
    const gate = gatedDatabase();
    const recorder = new UsageRecorder(gate.db, captureLogger().logger, 60_000);
    const key = randomUUID();
    const session = randomUUID();
    const at = new Date('2026-11-28T10:00:00.000Z');
    recorder.apiKeyUsed(key, at);
    recorder.sessionUsed(session, at);

    const flushed = recorder.flush();
    await gate.begun;
    expect(recorder.apiKeyLastUsed(key)).toEqual(at);
    expect(recorder.sessionLastUsed(session)).toEqual(at);

    gate.commit();
    await flushed;
    expect(recorder.apiKeyLastUsed(key)).toBeUndefined();
    expect(recorder.sessionLastUsed(session)).toBeUndefined();
  });

  test('when a flush fails, then what it was writing is kept for the next one and still shows', async () => {
    const gate = gatedDatabase();
    const { logger, entries } = captureLogger();
    const recorder = new UsageRecorder(gate.db, logger, 60_000);
    const key = randomUUID();
    const at = new Date('2026-11-28T10:00:00.000Z');
    recorder.apiKeyUsed(key, at);

    const flushed = recorder.flush();
    await gate.begun;
    gate.fail();
    await flushed;
    expect(recorder.apiKeyLastUsed(key)).toEqual(at);
    expect(entries.map((e) => e.message)).toContain('usage not written, kept for the next flush');
  });
});
