import { queues } from '@meetmatt/contracts';
import { type Invocation } from '../command';
import { CliError } from '../errors';
import { counted, formatCount, intOption } from '../format';
import { type ParkedMessage, ParkingLot, parkingNames } from '../parking';
import { type Runtime } from '../runtime';

async function lot(runtime: Runtime): Promise<ParkingLot> {
  return new ParkingLot(await runtime.broker());
}

/** The parking queue named (either name works), which must exist. */
async function parkingQueue(
  runtime: Runtime,
  name: string,
): Promise<{ queue: string; dlq: string; parked: number; parking: ParkingLot }> {
  const names = parkingNames(name);
  const parking = await lot(runtime);
  const stats = await parking.stats(names.dlq);
  if (!stats)
    throw new CliError(
      `no parking queue ${names.dlq} (known consumer queues: ${Object.values(queues).join(', ')})`,
    );
  return { ...names, parked: stats.messages, parking };
}

interface ListRow {
  queue: string;
  dlq: string;
  exists: boolean;
  parked: number | undefined;
  ready: number | undefined;
  consumers: number | undefined;
}

export async function dlqList(runtime: Runtime, { args, json }: Invocation): Promise<void> {
  const names = args[0]
    ? [parkingNames(args[0])]
    : Object.values(queues).map((q) => parkingNames(q));
  const parking = await lot(runtime);
  const rows: ListRow[] = [];
  for (const { queue, dlq } of names) {
    const [main, parked] = [await parking.stats(queue), await parking.stats(dlq)];
    rows.push({
      queue,
      dlq,
      exists: parked !== undefined,
      parked: parked?.messages,
      ready: main?.messages,
      consumers: main?.consumers,
    });
  }
  if (args[0] && !rows[0]!.exists) throw new CliError(`no parking queue ${rows[0]!.dlq}`);
  const out = runtime.out;
  if (json) {
    out.printJson({ queues: rows });
    return;
  }
  const dash = (n: number | undefined) => (n === undefined ? '-' : formatCount(n));
  out.table(
    [
      { header: 'QUEUE', value: (r: ListRow) => r.queue },
      { header: 'PARKED', value: (r) => dash(r.parked), align: 'right' },
      { header: 'READY', value: (r) => dash(r.ready), align: 'right' },
      { header: 'CONSUMERS', value: (r) => dash(r.consumers), align: 'right' },
    ],
    rows,
  );
  if (rows.some((r) => !r.exists))
    out.note('- : not declared yet (its service has not started against this broker)');
}

function messageFields(m: ParkedMessage): [string, string][] {
  return [
    ['message', m.messageId ?? '(no id)'],
    ['routing key', `${m.routingKey ?? '?'}${m.exchange ? ` on ${m.exchange}` : ''}`],
    [
      'reason',
      `${m.reason ?? '?'} after ${m.attempts ?? '?'} attempt${m.attempts === 1 ? '' : 's'}`,
    ],
    ['parked', `${m.parkedAt ?? '?'} from ${m.parkedFrom ?? '?'}`],
    ['error', m.error ?? ''],
  ];
}

export async function dlqShow(runtime: Runtime, { args, values, json }: Invocation): Promise<void> {
  const limit = intOption(values.limit as string | undefined, '--limit', 20);
  const { dlq, parked, parking } = await parkingQueue(runtime, args[0]!);
  const messages = await parking.peek(dlq, limit);
  const out = runtime.out;
  if (json) {
    out.printJson({ queue: dlq, parked, messages });
    return;
  }
  out.line(
    `${dlq}: ${formatCount(parked)} parked${messages.length < parked ? `, showing ${messages.length}` : ''}`,
  );
  messages.forEach((m, i) => {
    out.line();
    out.line(out.bold(`#${i + 1}`));
    out.fields(messageFields(m));
    out.line('body');
    const body = typeof m.body === 'string' ? m.body : JSON.stringify(m.body, null, 2);
    for (const line of body.split('\n')) out.line(`  ${line}`);
  });
}

export async function dlqRedrive(
  runtime: Runtime,
  { args, values, json, yes, dryRun }: Invocation,
): Promise<void> {
  const limit = intOption(values.limit as string | undefined, '--limit', Number.MAX_SAFE_INTEGER);
  const ids = values.ids
    ? new Set(
        (values.ids as string)
          .split(',')
          .map((id) => id.trim())
          .filter(Boolean),
      )
    : undefined;
  const { queue, dlq, parked, parking } = await parkingQueue(runtime, args[0]!);
  const out = runtime.out;
  const target = (values.to as string | undefined) ?? queue;
  if (dryRun) {
    const messages = (await parking.peek(dlq, ids ? parked : Math.min(limit, parked)))
      .filter((m) => !ids || (m.messageId !== undefined && ids.has(m.messageId)))
      .slice(0, limit);
    if (json)
      out.printJson({
        dryRun: true,
        queue: dlq,
        to: target,
        messages: messages.map((m) => m.messageId),
      });
    else
      out.line(
        `would send ${formatCount(messages.length)} of ${counted(parked, 'parked message')} from ${dlq} back to ${target}`,
      );
    return;
  }
  if (parked === 0) {
    if (json) out.printJson({ queue: dlq, redriven: [], failed: [] });
    else out.line(`${dlq} is empty: nothing to redrive`);
    return;
  }
  const count = ids
    ? `${ids.size} of the ${formatCount(parked)}`
    : formatCount(Math.min(limit, parked));
  await out.confirm(
    `Send ${count} parked message${parked === 1 ? '' : 's'} from ${dlq} back to ${target}?`,
    yes,
  );
  const progress = out.progress('redrive');
  const result = await parking.redrive(dlq, {
    ...(ids ? { ids } : {}),
    limit,
    ...(values.to ? { to: values.to as string } : {}),
    onProgress: (done) => progress.update(undefined, `${formatCount(done)} sent`),
  });
  progress.done(`${formatCount(result.redriven.length)} sent`);
  const missing = ids
    ? [...ids].filter(
        (id) =>
          ![...result.redriven, ...result.failed.map((f) => f.message)].some(
            (m) => m.messageId === id,
          ),
      )
    : [];
  if (json) {
    out.printJson({
      queue: dlq,
      to: target,
      redriven: result.redriven.map((m) => m.messageId),
      failed: result.failed.map((f) => ({ messageId: f.message.messageId, reason: f.outcome })),
      notFound: missing,
    });
  } else {
    out.line(`sent ${counted(result.redriven.length, 'message')} from ${dlq} back to ${target}`);
    for (const f of result.failed)
      out.line(`not sent: ${f.message.messageId ?? '(no id)'}: ${f.outcome} (still parked)`);
    if (missing.length > 0) out.line(`not parked in ${dlq}: ${missing.join(', ')}`);
  }
  if (result.failed.length > 0 || missing.length > 0)
    throw new CliError(`${result.failed.length + missing.length} message(s) not redriven`);
}

export async function dlqPurge(
  runtime: Runtime,
  { args, json, yes, dryRun }: Invocation,
): Promise<void> {
  const { dlq, parked, parking } = await parkingQueue(runtime, args[0]!);
  const out = runtime.out;
  if (dryRun) {
    if (json) out.printJson({ dryRun: true, queue: dlq, parked });
    else out.line(`would delete ${counted(parked, 'parked message')} from ${dlq}`);
    return;
  }
  if (parked > 0)
    await out.confirm(`Delete ${counted(parked, 'parked message')} from ${dlq} for good?`, yes);
  const purged = parked > 0 ? await parking.purge(dlq) : 0;
  if (json) out.printJson({ queue: dlq, purged });
  else out.line(`deleted ${counted(purged, 'parked message')} from ${dlq}`);
}
