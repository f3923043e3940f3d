import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { paymentEventTypes, userEventTypes } from '@meetmatt/contracts';
import {
  type CliFixture,
  CliProcess,
  appendAll,
  cliBin,
  cliEnv,
  createCliFixture,
  failureLine,
  jsonOf,
  newEvent,
  runCli,
} from '../support/cli';

// Every command is a process of its own (node and the bundled services' code load each time): on a
// busy machine a handful of them outlast jest's default 30 s.
jest.setTimeout(120_000);

let fixture: CliFixture;

beforeAll(async () => {
  fixture = await createCliFixture('cli_streams');
});

afterAll(async () => {
  await fixture?.drop();
});

describe('meetmatt, whatever the command', () => {
  test('when asked for help, then it prints the usage, the options and examples, and exits 0', async () => {
    const [top, read, group] = await Promise.all([
      runCli(['--help'], fixture.env),
      runCli(['streams', 'read', '--help'], fixture.env),
      runCli(['dlq', '--help'], fixture.env),
    ]);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Usage: meetmatt <command>/);
    for (const name of [
      'streams tail',
      'trace <id>',
      'projections rebuild <name>',
      'republish',
      'dlq redrive <queue>',
    ])
      expect(top.stdout).toContain(`meetmatt ${name}`);
    expect(read.code).toBe(0);
    expect(read.stdout).toMatch(/^Usage: meetmatt streams read <stream> \[options\]/);
    expect(read.stdout).toMatch(/--backwards/);
    expect(read.stdout).toMatch(/Examples:\n {2}meetmatt streams read /);
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/meetmatt dlq purge/);
  });

  test('when the command line is wrong, then it exits 2 with one line saying what is wrong', async () => {
    const results = await Promise.all([
      runCli(['streams', 'list', '--bogus'], fixture.env),
      runCli(['streams', 'read'], fixture.env),
      runCli(['streams', 'list', '--limit', 'ten'], fixture.env),
      runCli(['frobnicate'], fixture.env),
      runCli(['streams', 'list', '--service', 'billing'], fixture.env),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2]);
    expect(results.map(failureLine)).toEqual([
      'error: unknown option --bogus (see meetmatt streams list --help)',
      'error: meetmatt streams read needs <stream> (see meetmatt streams read --help)',
      'error: --limit must be a positive integer, got ten',
      'error: unknown command "frobnicate" (see meetmatt --help)',
      'error: --service expects payment, user or brain, got "billing"',
    ]);
  });

  test('when a database cannot be reached or does not exist, then it exits 1 with one line naming it', async () => {
    const [refused, missing, badConfig] = await Promise.all([
      runCli(['streams', 'list', '--service', 'payment'], {
        ...fixture.env,
        PAYMENT_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/meetmatt_payment',
      }),
      runCli(['streams', 'list', '--service', 'user'], {
        ...fixture.env,
        USER_DATABASE_URL: `postgres://postgres@127.0.0.1:5432/mm_missing_${randomUUID().slice(0, 8)}`,
      }),
      runCli(['streams', 'list'], { ...fixture.env, RABBITMQ_URL: 'not a url' }),
    ]);
    expect(refused.code).toBe(1);
    expect(failureLine(refused)).toBe(
      'error: payment database postgres://postgres@127.0.0.1:1/meetmatt_payment: connection refused (127.0.0.1:1)',
    );
    expect(missing.code).toBe(1);
    expect(failureLine(missing)).toMatch(
      /^error: user database postgres:\/\/.*\/mm_missing_\w+: database "mm_missing_\w+" does not exist$/,
    );
    expect(badConfig.code).toBe(1);
    expect(failureLine(badConfig)).toBe(
      'error: Invalid configuration: RABBITMQ_URL is "not a url": expected a URL',
    );
  });
});

describe('meetmatt streams and events', () => {
  const paymentId = randomUUID();
  const otherPaymentId = randomUUID();
  const userId = randomUUID();
  const paymentStream = `payment-${paymentId}`;
  let created: string;
  let confirmed: string;

  beforeAll(async () => {
    const { payment, user } = fixture.services;
    const events = await appendAll(payment.store, paymentStream, [
      newEvent(paymentEventTypes.created, { paymentId, userId, amount: 49 }),
      newEvent(paymentEventTypes.statusChanged, { paymentId, from: 'waiting', to: 'finished' }),
      newEvent(paymentEventTypes.confirmed, { paymentId, userId }),
    ]);
    created = events[0]!.id;
    confirmed = events[2]!.id;
    await appendAll(payment.store, `payment-${otherPaymentId}`, [
      newEvent(paymentEventTypes.created, { paymentId: otherPaymentId, userId }),
    ]);
    await appendAll(user.store, `user-${userId}`, [
      newEvent(userEventTypes.registered, { userId }),
    ]);
  });

  test('when streams are listed, then every service’s streams show with their event counts, a page at a time', async () => {
    const [all, page, table] = await Promise.all([
      runCli(['streams', 'list', '--json'], fixture.env),
      runCli(
        [
          'streams',
          'list',
          '--service',
          'payment',
          '--prefix',
          'payment-',
          '--limit',
          '1',
          '--json',
        ],
        fixture.env,
      ),
      runCli(['streams', 'list'], fixture.env),
    ]);
    expect(all.code).toBe(0);
    const listed = jsonOf(all).streams as { service: string; stream: string; events: number }[];
    expect(listed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ service: 'payment', stream: paymentStream, events: 3 }),
        expect.objectContaining({
          service: 'payment',
          stream: `payment-${otherPaymentId}`,
          events: 1,
        }),
        expect.objectContaining({ service: 'user', stream: `user-${userId}`, events: 1 }),
      ]),
    );
    expect(listed).toHaveLength(3);
    const first = [paymentStream, `payment-${otherPaymentId}`].sort()[0]!;
    expect(jsonOf(page)).toEqual({
      streams: [expect.objectContaining({ stream: first })],
      more: { payment: first },
    });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SERVICE\s+STREAM\s+EVENTS\s+LAST WRITE \(UTC\)$/);
    expect(lines.find((l) => l.includes(paymentStream))).toMatch(
      new RegExp(`^payment\\s+${paymentStream}\\s+3\\s+\\d{4}-`),
    );
  });

  test('when a stream is read, then its events come in order (or newest first), and an unknown stream is one line', async () => {
    const [forwards, backwards, table, unknown] = await Promise.all([
      runCli(['streams', 'read', paymentStream, '--json'], fixture.env),
      runCli(
        ['streams', 'read', paymentStream, '--backwards', '--limit', '1', '--json'],
        fixture.env,
      ),
      runCli(['streams', 'read', paymentStream], fixture.env),
      runCli(['streams', 'read', 'payment-nope'], fixture.env),
    ]);
    const read = jsonOf<{ service: string; events: { type: string; position: string }[] }>(
      forwards,
    );
    expect(read.service).toBe('payment');
    expect(read.events.map((e) => e.type)).toEqual([
      paymentEventTypes.created,
      paymentEventTypes.statusChanged,
      paymentEventTypes.confirmed,
    ]);
    expect(read.events[0]).toMatchObject({
      id: created,
      revision: 0,
      stream: paymentStream,
      data: { paymentId },
    });
    expect(read.events[0]!.position).toMatch(/^\d+:\d+$/);
    expect(jsonOf<{ events: { id: string }[] }>(backwards).events.map((e) => e.id)).toEqual([
      confirmed,
    ]);
    expect(table.stdout).toMatch(/^REV\s+TIME \(UTC\)\s+TYPE\s+EVENT ID\s+CORRELATION\s+DATA/);
    expect(table.stdout).toContain(`"paymentId":"${paymentId}"`);
    expect(table.stderr).toContain(`${paymentStream} (payment): 3 events`);
    expect(unknown.code).toBe(1);
    expect(failureLine(unknown)).toBe('error: no stream "payment-nope" in payment, user or brain');
  });

  test('when an event is shown, then its place, metadata and data are printed; an unknown id is one line', async () => {
    const [json, table, unknown] = await Promise.all([
      runCli(['events', 'show', confirmed, '--json'], fixture.env),
      runCli(['events', 'show', confirmed], fixture.env),
      runCli(['events', 'show', randomUUID(), '--service', 'brain'], fixture.env),
    ]);
    expect(jsonOf(json)).toMatchObject({
      service: 'payment',
      id: confirmed,
      type: paymentEventTypes.confirmed,
      stream: paymentStream,
      revision: 2,
      schemaVersion: 1,
      data: { paymentId, userId },
    });
    expect(table.stdout).toMatch(new RegExp(`^event\\s+${confirmed}$`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^stream\\s+${paymentStream} @ revision 2$`, 'm'));
    expect(table.stdout).toContain(`"paymentId": "${paymentId}"`);
    expect(unknown.code).toBe(1);
    expect(failureLine(unknown)).toMatch(/^error: no event "[0-9a-f-]{36}" in brain$/);
  });

  test('when $all is tailed by type, then new events of those types print as they are written, until the limit', async () => {
    const tail = new CliProcess(
      ['streams', 'tail', '--type', 'payment.*', '--limit', '2', '--json'],
      fixture.env,
    );
    await tail.waitFor(/following payment, user, brain live/);
    const id = randomUUID();
    await appendAll(fixture.services.user.store, `user-${id}`, [
      newEvent(userEventTypes.registered, { userId: id }),
    ]);
    await appendAll(fixture.services.payment.store, `payment-${id}`, [
      newEvent(paymentEventTypes.created, { paymentId: id }),
      newEvent(paymentEventTypes.expired, { paymentId: id }),
    ]);
    const result = await tail.exited;
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { service: string; type: string; stream: string });
    expect(lines.map((l) => [l.service, l.type, l.stream])).toEqual([
      ['payment', paymentEventTypes.created, `payment-${id}`],
      ['payment', paymentEventTypes.expired, `payment-${id}`],
    ]);
  });

  test('when a tail is interrupted with Ctrl-C, then it stops cleanly and exits 0', async () => {
    const tail = new CliProcess(['streams', 'tail', '--service', 'user'], fixture.env);
    await tail.waitFor(/following user live/);
    const id = randomUUID();
    await appendAll(fixture.services.user.store, `user-${id}`, [
      newEvent(userEventTypes.registered, { userId: id }),
    ]);
    await tail.waitFor(new RegExp(`user-${id}`));
    tail.signal('SIGINT');
    const result = await tail.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^\\d{4}-\\S+ \\S+\\s+user\\s+${userEventTypes.registered}\\s+user-${id}\\s`, 'm'),
    );
    expect(result.stderr).toMatch(/stopped after 1 event/);
  });
});

test('the bin runs the CLI from any directory', async () => {
  const bin = new CliProcess(['--help'], cliEnv({}), {
    file: process.execPath,
    args: [cliBin],
    cwd: tmpdir(),
  });
  bin.endInput();
  const result = await bin.exited;
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/Usage: meetmatt <command>/);
});
