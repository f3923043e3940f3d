import { randomUUID } from 'node:crypto';
import {
  agentEvents,
  exchanges,
  parkingQueueName,
  paymentEvents,
  queues,
  services,
} from '@meetmatt/contracts';
import {
  BrokerConnection,
  type RecordedEvent,
  START,
  createLogger,
  republishEvents,
  sql,
} from '@meetmatt/infra';
import { agentIdFor } from '@meetmatt/brain-service/domain/agent-identity';
import { paymentsProjection } from '@meetmatt/payment-service/projections/payments';
import { CliProcess, jsonOf, runCli } from '../support/cli';
import { type RunningSystem, type SystemUser, startSystem } from '../support/in-process-system';
import { eventually } from '@meetmatt/infra/testing';

/**
 * The CLI against the real services' data: the three services run in this process as npm start
 * wires them (sandboxes for NOWPayments and Devin), and every command runs as its own process.
 */
const logger = createLogger({ service: 'cli-test', level: 'silent' });
let system: RunningSystem;
let broker: BrokerConnection;
let user: SystemUser;
let paid: { id: string; providerPaymentId: string };

const typesOf = (events: RecordedEvent[]) => events.map((e) => e.type);

async function parked(queue: string): Promise<number> {
  const channel = await (await broker.whenConnected()).createChannel();
  try {
    return (await channel.checkQueue(parkingQueueName(queue))).messageCount;
  } finally {
    await channel.close();
  }
}

/** The events a service wrote because of `eventId` (user-service's notifications). */
async function causedBy(eventId: string): Promise<RecordedEvent[]> {
  const { rows } = await sql<{ event_id: string }>`
    SELECT event_id FROM es_events
    WHERE metadata->>'causationId' = ${eventId} OR data->>'sourceEventId' = ${eventId}`.execute(
    system.services.user.database.db,
  );
  const events = await Promise.all(
    rows.map((r) => system.services.user.store.readEvent(r.event_id)),
  );
  return events.filter((e): e is RecordedEvent => e !== undefined);
}

async function status(paymentId: string): Promise<string | undefined> {
  const res = await system.get<{ status: string }>(
    'payment',
    `/payments/${paymentId}/status`,
    user,
  );
  return res.status === 200 ? res.body.status : undefined;
}

beforeAll(async () => {
  system = await startSystem('cli_system');
  broker = new BrokerConnection({ url: system.vhost.url, logger, name: 'cli-system-test' });
  await broker.start();
  user = await system.register();
  paid = await system.pay(user);
}, 120_000);

afterAll(async () => {
  await broker?.close();
  await system?.stop();
});

describe('meetmatt against the running services', () => {
  test('when a paid journey has finished, then trace shows its events from all three services in time order', async () => {
    const agentId = agentIdFor(paid.id);
    const deployed = await eventually(
      'found to be defined',
      async () => {
        const found = (await system.services.brain.stream(`agent-${agentId}`)).find(
          (e) => e.type === agentEvents.deployed.type,
        );
        expect(found).toBeDefined();
        return found!;
      },
      60_000,
    );
    await eventually(
      'await causedBy(deployed.id) not to have length 0',
      async () => expect(await causedBy(deployed.id)).not.toHaveLength(0),
      30_000,
    );

    const [json, table] = await Promise.all([
      runCli(['trace', paid.id, '--json'], system.env),
      runCli(['trace', paid.id], system.env),
    ]);
    expect(json.code).toBe(0);
    const trace = jsonOf<{
      kind: string;
      agentIds: string[];
      events: { service: string; type: string; stream: string; createdAt: string }[];
    }>(json);
    expect(trace.kind).toBe('payment');
    expect(trace.agentIds).toEqual([agentId]);
    const services = new Set(trace.events.map((e) => e.service));
    expect([...services].sort()).toEqual(['brain', 'payment', 'user']);
    const types = trace.events.map((e) => e.type);
    expect(types[0]).toBe(paymentEvents.created.type);
    for (const type of [
      paymentEvents.confirmed.type,
      agentEvents.deployRequested.type,
      agentEvents.sessionStarted.type,
      agentEvents.deployed.type,
      'user.notification-created',
    ])
      expect(types).toContain(type);
    expect(types.indexOf(paymentEvents.confirmed.type)).toBeLessThan(
      types.indexOf(agentEvents.deployRequested.type),
    );
    expect(types.indexOf(agentEvents.deployRequested.type)).toBeLessThan(
      types.indexOf(agentEvents.deployed.type),
    );
    const times = trace.events.map((e) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // Another payment's stream never comes in (the invoice counter's may: same journey).
    expect(
      trace.events.filter(
        (e) => e.stream.startsWith('payment-') && e.stream !== `payment-${paid.id}`,
      ),
    ).toEqual([]);
    expect(table.stdout.split('\n')[0]).toBe(`payment ${paid.id} → agent ${agentId}`);
    expect(table.stdout).toMatch(
      /^\d+ events in payment \(\d+\), user \(\d+\), brain \(\d+\) over /m,
    );
  }, 120_000);

  test('when events are republished, then the consumers’ inboxes drop them: no second notification, no second deploy', async () => {
    const agentId = agentIdFor(paid.id);
    const paymentStream = await system.services.payment.stream(`payment-${paid.id}`);
    const onBus = paymentStream.filter(
      (e) =>
        e.type !== paymentEvents.ipnReceived.type &&
        e.type !== paymentEvents.invoiceNumberAllocated.type,
    );
    const agentBefore = await system.services.brain.stream(`agent-${agentId}`);
    const confirmed = paymentStream.find((e) => e.type === paymentEvents.confirmed.type)!;
    const notificationsBefore = await causedBy(confirmed.id);
    expect(notificationsBefore).not.toHaveLength(0);
    const inboxBefore = await inboxRows();

    const result = await runCli(
      ['republish', '--service', 'payment', '--stream', `payment-${paid.id}`, '--yes', '--json'],
      system.env,
    );
    expect(result.code).toBe(0);
    const sent = jsonOf<{ events: number; confirmed: number; unroutable: string[] }>(result);
    expect(sent).toMatchObject({ events: onBus.length, confirmed: onBus.length });
    // Types nobody binds (status changes, invoices) reach no queue, as when the relay sent them.
    expect(sent.unroutable).not.toContain(confirmed.id);

    // Both consumers of payment events saw the confirmation again and called it a duplicate.
    for (const queue of [queues.userPaymentEvents, queues.brainPaymentEvents]) {
      const service =
        queue === queues.userPaymentEvents ? system.services.user : system.services.brain;
      await eventually(
        `service.logs .filter( (l) => l.message === 'message handled' && l.queue === queue && l.messageId === confirmed.id, ) .map((l) => l.outcome), to equal ['handled', 'duplicate']`,
        () =>
          expect(
            service.logs
              .filter(
                (l) =>
                  l.message === 'message handled' &&
                  l.queue === queue &&
                  l.messageId === confirmed.id,
              )
              .map((l) => l.outcome),
          ).toEqual(['handled', 'duplicate']),
      );
    }
    expect(await causedBy(confirmed.id)).toHaveLength(notificationsBefore.length);
    expect(typesOf(await system.services.brain.stream(`agent-${agentId}`))).toEqual(
      typesOf(agentBefore),
    );
    expect(await inboxRows()).toBe(inboxBefore);
  }, 60_000);

  test('when a projection is rebuilt while the service serves reads, then every read answers and the swap loses nothing', async () => {
    const more = await Promise.all(Array.from({ length: 6 }, () => system.pay(user, ['expired'])));
    for (const p of more)
      await eventually(
        `await status(p.id) to be 'expired'`,
        async () => expect(await status(p.id)).toBe('expired'),
        30_000,
      );
    const expected = new Map([
      [paid.id, 'finished'],
      ...more.map((p) => [p.id, 'expired'] as const),
    ]);

    const rebuild = new CliProcess(
      ['projections', 'rebuild', 'payments', '--service', 'payment', '--batch-size', '1', '--yes'],
      system.env,
    );
    rebuild.endInput();
    const failures: string[] = [];
    let reads = 0;
    let readsWhileBuilding = 0;
    let done = false;
    const building = async () => {
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM projection_rebuilds
        WHERE name = 'payments' AND state = 'building'`.execute(
        system.services.payment.database.db,
      );
      return rows[0]!.n > 0;
    };
    const reading = (async () => {
      while (!done) {
        const during = await building();
        for (const [id, want] of expected) {
          const res = await system.get<{ status: string }>('payment', `/payments/${id}`, user);
          reads += 1;
          if (during) readsWhileBuilding += 1;
          if (res.status !== 200 || res.body.status !== want)
            failures.push(`${id}: ${res.status} ${res.body?.status}`);
        }
      }
    })();
    const result = await rebuild.exited;
    done = true;
    await reading;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^rebuilt payment/payments v${paymentsProjection.version}: \\d+ events in .* \\(\\d+ events/s\\); live from \\d+:\\d+$`,
        'm',
      ),
    );
    expect(failures).toEqual([]);
    expect(readsWhileBuilding).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(readsWhileBuilding);
    // Swapped in, nothing left to apply. (The state can read catching-up until the next event
    // when the swap's checkpoint equals the live runner's: reported to infra.)
    const listed = jsonOf<{
      projections: { name: string; state: string; lag: { events: number }; rebuild: unknown }[];
    }>(await runCli(['projections', 'list', '--service', 'payment', '--json'], system.env));
    const payments = listed.projections.find((p) => p.name === 'payments')!;
    expect(['running', 'catching-up']).toContain(payments.state);
    expect(payments.lag.events).toBe(0);
    expect(payments.rebuild).toBeUndefined();
    const list = await system.get<{ items: { id: string }[] }>(
      'payment',
      '/payments?limit=100',
      user,
    );
    expect(list.body.items.map((p) => p.id).sort()).toEqual([...expected.keys()].sort());
  }, 120_000);

  test('when a message is parked, then dlq shows why, and once the cause is fixed a redrive has it handled', async () => {
    const manual = await system.pay(user, ['manual']);
    const agentId = agentIdFor(manual.id);
    // The brain gave up on an agent whose payment is, as far as payments knows, not paid yet.
    const failed: RecordedEvent = {
      id: randomUUID(),
      type: agentEvents.deployFailed.type,
      data: {
        agentId,
        userId: user.userId,
        paymentId: manual.id,
        sessionId: null,
        reason: 'Devin session expired',
        attempt: 2,
        build: 1,
        final: true,
        failedAt: new Date().toISOString(),
      },
      metadata: { correlationId: randomUUID(), causationId: randomUUID(), schemaVersion: 1 },
      streamId: `agent-${agentId}`,
      revision: 0,
      position: START,
      createdAt: new Date(),
    };
    await republishEvents({
      broker,
      exchange: exchanges.brain,
      source: services.brain.name,
      logger,
      events: [failed],
    });
    await eventually(
      'await parked(queues.paymentAgentEvents) to be 1',
      async () => expect(await parked(queues.paymentAgentEvents)).toBe(1),
      20_000,
    );

    const shown = await runCli(['dlq', 'show', queues.paymentAgentEvents, '--json'], system.env);
    expect(jsonOf(shown)).toMatchObject({
      parked: 1,
      messages: [
        {
          messageId: failed.id,
          routingKey: agentEvents.deployFailed.type,
          reason: 'rejected',
          attempts: 1,
          parkedFrom: queues.paymentAgentEvents,
          error: expect.stringContaining('refund not requested'),
          body: { id: failed.id, data: { paymentId: manual.id } },
        },
      ],
    });

    // The payment was paid after all.
    system.nowPayments.setStatus(manual.providerPaymentId, 'finished');
    await eventually(
      `await status(manual.id) to be 'finished'`,
      async () => expect(await status(manual.id)).toBe('finished'),
      30_000,
    );

    const redriven = await runCli(
      ['dlq', 'redrive', queues.paymentAgentEvents, '--yes'],
      system.env,
    );
    expect(redriven.code).toBe(0);
    expect(redriven.stdout).toMatch(
      /^sent 1 message from payment-service\.agent-events\.dlq back to payment-service\.agent-events$/m,
    );
    const refund = await eventually(
      'found to be defined',
      async () => {
        const found = (await system.services.payment.stream(`payment-${manual.id}`)).find(
          (e) => e.type === paymentEvents.refundRequested.type,
        );
        expect(found).toBeDefined();
        return found!;
      },
      20_000,
    );
    expect(refund.metadata.causationId).toBe(failed.id);
    expect(await parked(queues.paymentAgentEvents)).toBe(0);
  }, 90_000);

  test('when a final IPN was lost, then payments reconcile asks NOWPayments and records the payment finished', async () => {
    const lost = await system.pay(user, ['lost-ipn']);
    await eventually(
      `system.nowPayments.payment(lost.providerPaymentId)?.payment_status to be 'finished'`,
      () =>
        expect(system.nowPayments.payment(lost.providerPaymentId)?.payment_status).toBe('finished'),
      30_000,
    );
    await eventually(
      `await status(lost.id) to be 'sending'`,
      async () => expect(await status(lost.id)).toBe('sending'),
      30_000,
    );

    const dry = await runCli(
      ['payments', 'reconcile', '--older-than', '0s', '--dry-run', '--json'],
      system.env,
    );
    expect(jsonOf(dry).due).toEqual(
      expect.arrayContaining([expect.objectContaining({ paymentId: lost.id, status: 'sending' })]),
    );
    expect(await status(lost.id)).toBe('sending');

    const result = await runCli(
      ['payments', 'reconcile', '--older-than', '0s', '--yes', '--json'],
      system.env,
    );
    expect(result.code).toBe(0);
    expect(jsonOf(result).changed).toEqual(
      expect.arrayContaining([{ paymentId: lost.id, from: 'sending', to: 'finished' }]),
    );
    await eventually(
      `await status(lost.id) to be 'finished'`,
      async () => expect(await status(lost.id)).toBe('finished'),
      20_000,
    );
  }, 90_000);
});

async function inboxRows(): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM inbox`.execute(
    system.services.user.database.db,
  );
  return rows[0]!.n;
}
