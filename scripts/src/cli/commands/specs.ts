/**
 * What each command is: its name, arguments, options, help and examples. This file loads
 * nothing heavy, so `--help` and a mistyped flag answer at once; a command's implementation
 * (and the database, event store and broker code it needs) is loaded only when it runs.
 */
import { type CommandSpec, type Invocation, type OptionSpec } from '../command';
import { type Runtime } from '../runtime';

type Run = (runtime: Runtime, invocation: Invocation) => Promise<void>;

async function run<M, K extends keyof M>(
  load: () => Promise<M>,
  name: K,
  runtime: Runtime,
  invocation: Invocation,
): Promise<void> {
  const implementation = (await load())[name] as Run;
  await implementation(runtime, invocation);
}

const serviceOption: OptionSpec = {
  type: 'string',
  short: 's',
  value: '<payment|user|brain>',
  choices: ['payment', 'user', 'brain'],
  description: 'Only this service (default: all three)',
};
export const streamsList: CommandSpec = {
  name: 'streams list',
  summary: 'List event streams (id, events, last write), by service',
  description:
    'Streams come in id order, --limit per service; when a service has more, the last line says which --after continues.',
  options: {
    service: serviceOption,
    prefix: {
      type: 'string',
      short: 'p',
      value: '<prefix>',
      description: 'Streams whose id starts with it, e.g. payment-',
    },
    after: { type: 'string', value: '<stream>', description: 'Continue after this stream id' },
    limit: {
      type: 'string',
      short: 'n',
      value: '<n>',
      description: 'At most n streams per service (default 50)',
    },
  },
  examples: [
    'meetmatt streams list',
    'meetmatt streams list --service payment --prefix payment- --limit 20',
    'meetmatt streams list --service user --after user-7f3e… --json',
  ],
  run: (runtime, invocation) =>
    run(() => import('./streams.js'), 'streamsList', runtime, invocation),
};

export const streamsRead: CommandSpec = {
  name: 'streams read',
  summary: 'Read the events of one stream',
  args: [{ name: 'stream', description: 'The stream id, e.g. payment-3f1c…' }],
  options: {
    service: { ...serviceOption, description: 'Where the stream lives (default: found in any)' },
    from: {
      type: 'string',
      value: '<revision>',
      description: 'First revision to read (default: the start, or the end with --backwards)',
    },
    backwards: { type: 'boolean', short: 'b', description: 'Newest first' },
    limit: {
      type: 'string',
      short: 'n',
      value: '<n>',
      description: 'At most n events (default 100)',
    },
  },
  examples: [
    'meetmatt streams read payment-3f1c2a9e-…',
    'meetmatt streams read agent-8d2b… --backwards --limit 5',
    'meetmatt streams read user-1a2b… --from 3 --json',
  ],
  run: (runtime, invocation) =>
    run(() => import('./streams.js'), 'streamsRead', runtime, invocation),
};

export const streamsTail: CommandSpec = {
  name: 'streams tail',
  summary: 'Follow $all live: every new event as it is written (Ctrl-C stops)',
  options: {
    service: serviceOption,
    type: {
      type: 'string',
      short: 't',
      value: '<types>',
      description: 'Event types, comma-separated; a trailing * matches a prefix (payment.*)',
    },
    prefix: {
      type: 'string',
      short: 'p',
      value: '<prefix>',
      description: 'Only streams whose id starts with it',
    },
    from: {
      type: 'string',
      value: '<position|time>',
      description: 'Start from here (commit:prepare, an ISO time, or 15m ago) instead of now',
    },
    limit: { type: 'string', short: 'n', value: '<n>', description: 'Stop after n events' },
  },
  examples: [
    'meetmatt streams tail',
    "meetmatt streams tail --type 'payment.*,agent.deployed'",
    'meetmatt streams tail --service brain --from 10m --json | jq .type',
  ],
  run: (runtime, invocation) =>
    run(() => import('./streams.js'), 'streamsTail', runtime, invocation),
};

export const eventsShow: CommandSpec = {
  name: 'events show',
  summary: 'Show one stored event: where it is, its metadata and its data',
  args: [{ name: 'eventId', description: 'The event id (also the message id on the bus)' }],
  options: { service: { ...serviceOption, description: 'Where to look (default: all three)' } },
  examples: [
    'meetmatt events show 0f8e2c4a-…',
    'meetmatt events show 0f8e2c4a-… --json | jq .data',
  ],
  run: (runtime, invocation) => run(() => import('./events.js'), 'eventsShow', runtime, invocation),
};

export const trace: CommandSpec = {
  name: 'trace',
  summary: 'Every event of one journey across payment, brain and user, in time order',
  description:
    'Give a payment id, an agent id (derived from its payment id), an OpenTelemetry trace id (32 hex digits, as in a log line’s trace_id) or a correlation id. The journey is the payment’s and the agent’s streams, every event sharing their correlation ids, every event recorded in the trace, and every event another service wrote because of one of them (its causation id).',
  args: [
    {
      name: 'id',
      description: 'A payment id, an agent id, a trace id or a correlation id',
    },
  ],
  options: {
    limit: {
      type: 'string',
      short: 'n',
      value: '<n>',
      description: 'At most n events (default 1000)',
    },
  },
  examples: [
    'meetmatt trace 3f1c2a9e-5b7d-4c1e-9f00-2a6b8c4d1e7f        # a payment id',
    'meetmatt trace payment-3f1c2a9e-…                          # its stream id works too',
    'meetmatt trace 4bf92f3577b34da6a3ce929d0e0e4736            # a trace id from a log line',
    'meetmatt trace 7b9f… --json | jq -r \'.events[] | "\\(.service) \\(.type)"\'',
  ],
  run: (runtime, invocation) => run(() => import('./trace.js'), 'trace', runtime, invocation),
};

export const projectionsList: CommandSpec = {
  name: 'projections list',
  summary: 'Read models: state, version, checkpoint, lag, leader',
  description:
    'LAG counts the events of the projection’s types written after its checkpoint (and how long the oldest has waited). VERSION shows live→code when the code defines a newer version (the service rebuilds it at start, or run projections rebuild).',
  options: { service: serviceOption },
  examples: ['meetmatt projections list', 'meetmatt projections list --service user --json'],
  run: (runtime, invocation) =>
    run(() => import('./projections.js'), 'projectionsList', runtime, invocation),
};

export const projectionsRebuild: CommandSpec = {
  name: 'projections rebuild',
  summary: 'Rebuild a read model from position 0 beside the live one, then swap it in',
  description:
    'Zero downtime: the new tables are built in a schema of their own while the service keeps reading and updating the live ones, then swapped in atomically once caught up. Ctrl-C pauses between batches; the same command resumes (--fresh starts over).',
  args: [{ name: 'name', description: 'The projection, as projections list names it' }],
  options: {
    service: {
      ...serviceOption,
      description: 'The service it belongs to (needed when two have one by that name)',
    },
    'batch-size': {
      type: 'string',
      value: '<n>',
      description: 'Events per transaction (default 2000)',
    },
    fresh: {
      type: 'boolean',
      description: 'Start from position 0 even if an interrupted rebuild could resume',
    },
  },
  changesState: true,
  examples: [
    'meetmatt projections rebuild payments',
    'meetmatt projections rebuild agents --service brain --yes',
    'meetmatt projections rebuild users --dry-run',
  ],
  run: (runtime, invocation) =>
    run(() => import('./projections.js'), 'projectionsRebuild', runtime, invocation),
};

export const projectionsReplay: CommandSpec = {
  name: 'projections replay',
  summary: 'Apply a read model’s events again from a position or a time',
  description:
    'Moves the checkpoint back so the events after --from are applied again to the live tables (and clears a failure). For projections whose apply is idempotent (payments); on the others (users, sessions, api_keys, notifications, agents) a replay stops on the first row already there, and a rebuild is the repair.',
  args: [{ name: 'name', description: 'The projection' }],
  options: {
    service: serviceOption,
    from: {
      type: 'string',
      value: '<position|time>',
      description: 'commit:prepare, an ISO time, or a duration ago (2h); required',
    },
  },
  changesState: true,
  examples: [
    'meetmatt projections replay payments --from 2026-05-01T10:00:00Z',
    'meetmatt projections replay payments --from 30m --yes',
    'meetmatt projections replay payments --from 812:1200 --dry-run',
  ],
  run: (runtime, invocation) =>
    run(() => import('./projections.js'), 'projectionsReplay', runtime, invocation),
};

export const projectionsSkip: CommandSpec = {
  name: 'projections skip',
  summary: 'Move a failed read model past the poison event that stopped it',
  description:
    'Only the event the projection failed on can be skipped (projections list shows it): skipping is never a guess. The event stays in the store; the read model just never applies it.',
  args: [
    { name: 'name', description: 'The failed projection' },
    { name: 'eventId', description: 'The event it failed on' },
  ],
  options: { service: serviceOption },
  changesState: true,
  examples: [
    'meetmatt projections skip payments 0f8e2c4a-…',
    'meetmatt projections skip notifications 0f8e2c4a-… --service user --yes',
  ],
  run: (runtime, invocation) =>
    run(() => import('./projections.js'), 'projectionsSkip', runtime, invocation),
};

export const republish: CommandSpec = {
  name: 'republish',
  summary: 'Send stored events to RabbitMQ again, with their original message ids',
  description:
    'Events go to the service’s exchange as the relay sent them (same CloudEvent, same message id), so consumers whose inbox already has an event drop it; --queue sends to one consumer’s queue only. Events the service keeps off the bus (payment’s IPN evidence and invoice counters) are never sent. --from is exclusive, --to inclusive.',
  options: {
    service: {
      type: 'string',
      short: 's',
      value: '<payment|user|brain>',
      choices: ['payment', 'user', 'brain'],
      description: 'Whose events (required)',
    },
    stream: { type: 'string', value: '<stream>', description: 'Only this stream' },
    prefix: {
      type: 'string',
      short: 'p',
      value: '<prefix>',
      description: 'Only streams whose id starts with it',
    },
    type: {
      type: 'string',
      short: 't',
      value: '<types>',
      description: 'Event types, comma-separated; a trailing * matches a prefix',
    },
    from: {
      type: 'string',
      value: '<position|time>',
      description: 'After this position, or from this time (ISO, or 2h ago)',
    },
    to: {
      type: 'string',
      value: '<position|time>',
      description: 'Up to this position, or before this time',
    },
    queue: {
      type: 'string',
      value: '<queue>',
      description: 'Send to this queue only (through the default exchange)',
    },
  },
  changesState: true,
  examples: [
    'meetmatt republish --service payment --type payment.confirmed --from 2h --dry-run',
    'meetmatt republish --service payment --stream payment-3f1c… --yes',
    'meetmatt republish --service brain --prefix agent- --queue user-service.agent-events --yes',
  ],
  run: (runtime, invocation) =>
    run(() => import('./republish.js'), 'republish', runtime, invocation),
};

export const dlqList: CommandSpec = {
  name: 'dlq list',
  summary: 'Parked (dead-lettered) messages per consumer queue',
  description:
    'Without a queue, every consumer queue the services declare (contracts/src/messaging.ts) with its parking queue <queue>.dlq; READY and CONSUMERS are the consumer queue’s own.',
  args: [{ name: 'queue', description: 'One consumer queue (or its .dlq)', optional: true }],
  examples: ['meetmatt dlq list', 'meetmatt dlq list brain-service.payment-events --json'],
  run: (runtime, invocation) => run(() => import('./dlq.js'), 'dlqList', runtime, invocation),
};

export const dlqShow: CommandSpec = {
  name: 'dlq show',
  summary: 'Read parked messages without removing them: reason, attempts, routing key, body',
  args: [{ name: 'queue', description: 'The consumer queue or its .dlq' }],
  options: {
    limit: {
      type: 'string',
      short: 'n',
      value: '<n>',
      description: 'At most n messages (default 20)',
    },
  },
  examples: [
    'meetmatt dlq show brain-service.payment-events',
    'meetmatt dlq show user-service.agent-events.dlq --limit 1 --json',
  ],
  run: (runtime, invocation) => run(() => import('./dlq.js'), 'dlqShow', runtime, invocation),
};

export const dlqRedrive: CommandSpec = {
  name: 'dlq redrive',
  summary: 'Send parked messages back to the queue they were parked from',
  description:
    'Each message keeps its id, body and routing headers and loses its failure record, so the consumer tries it afresh (with its full retries) and its inbox still drops what it already handled. A parked message is removed only once the broker has confirmed its copy.',
  args: [{ name: 'queue', description: 'The consumer queue or its .dlq' }],
  options: {
    ids: { type: 'string', value: '<id,id…>', description: 'Only these message ids' },
    limit: {
      type: 'string',
      short: 'n',
      value: '<n>',
      description: 'At most n messages (default: all)',
    },
    to: {
      type: 'string',
      value: '<queue>',
      description: 'Send to this queue instead of the one each was parked from',
    },
  },
  changesState: true,
  examples: [
    'meetmatt dlq redrive brain-service.payment-events',
    'meetmatt dlq redrive brain-service.payment-events --ids 0f8e2c4a-…,7a1b… --yes',
    'meetmatt dlq redrive user-service.agent-events --dry-run',
  ],
  run: (runtime, invocation) => run(() => import('./dlq.js'), 'dlqRedrive', runtime, invocation),
};

export const dlqPurge: CommandSpec = {
  name: 'dlq purge',
  summary: 'Delete every parked message of a queue (asks first)',
  args: [{ name: 'queue', description: 'The consumer queue or its .dlq' }],
  changesState: true,
  examples: [
    'meetmatt dlq purge user-service.payment-events',
    'meetmatt dlq purge user-service.payment-events.dlq --yes --json',
  ],
  run: (runtime, invocation) => run(() => import('./dlq.js'), 'dlqPurge', runtime, invocation),
};

/**
 * PaymentStatusSchema's values, spelled out: the specs load nothing heavy (no zod) so --help and
 * completion stay fast; payments.test.ts keeps the two lists equal.
 */
export const paymentStatusChoices = [
  'waiting',
  'confirming',
  'confirmed',
  'sending',
  'partially_paid',
  'finished',
  'failed',
  'refunded',
  'expired',
  'cancelled',
  'underpaid',
  'mismatched',
] as const;

export const paymentsList: CommandSpec = {
  name: 'payments list',
  summary: 'List payments, newest first, with what was asked beside what arrived',
  description:
    'From the payment service’s read model. --status underpaid (NOWPayments said finished, less arrived than asked beyond PAYMENT_UNDERPAYMENT_TOLERANCE) and --status mismatched (another coin or price) are the payments not confirmed that an operator settles: each shows the figures that did not match. --status refund-requested lists refunds asked for and not yet made; --status waiting --older-than 1h, payments nobody paid for an hour. --older-than counts from the payment’s last change (its last event).',
  options: {
    status: {
      type: 'string',
      value: '<status>',
      description:
        'Only payments in this status (underpaid, mismatched, waiting, partially_paid, finished, …) or refund-requested',
      choices: [...paymentStatusChoices, 'refund-requested'],
    },
    'older-than': {
      type: 'string',
      value: '<duration>',
      description: 'Only payments unchanged for longer than this (30m, 1h, 2d)',
    },
    user: { type: 'string', value: '<user id>', description: 'Only this user’s payments' },
    limit: {
      type: 'string',
      short: 'n',
      value: '<n>',
      description: 'At most n payments (default 50)',
    },
  },
  examples: [
    'meetmatt payments list --status underpaid',
    'meetmatt payments list --status refund-requested --json',
    'meetmatt payments list --status waiting --older-than 1h',
    'meetmatt payments list --user 7f3e2a9c-… --limit 10',
  ],
  run: (runtime, invocation) =>
    run(() => import('./payments.js'), 'paymentsList', runtime, invocation),
};

export const paymentsReconcile: CommandSpec = {
  name: 'payments reconcile',
  summary: 'Ask NOWPayments about open payments now and record what changed',
  description:
    'One round of the payment service’s own reconciler: payments still open (not final) created longer ago than --older-than are looked up with GET /v1/payment/:id, and what NOWPayments says goes through the same path as an IPN. Uses the payment service’s configuration (NOWPAYMENTS_API_URL and key; the local sandbox when none is set).',
  options: {
    'older-than': {
      type: 'string',
      value: '<duration>',
      description: 'Only payments opened longer ago than this (default RECONCILER_MIN_AGE_MS, 5m)',
    },
  },
  changesState: true,
  examples: [
    'meetmatt payments reconcile --dry-run',
    'meetmatt payments reconcile --older-than 30m',
    'meetmatt payments reconcile --older-than 0s --yes --json',
  ],
  run: (runtime, invocation) =>
    run(() => import('./payments.js'), 'paymentsReconcile', runtime, invocation),
};
