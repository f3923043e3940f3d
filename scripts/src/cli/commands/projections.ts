import { type ServiceKey } from '@meetmatt/contracts';
import {
  type Position,
  PoisonEventError,
  type Projection,
  ProjectionStateError,
  type ProjectionStatus,
  type RebuildProgress,
  formatPosition,
  listProjections,
  positionBefore,
  rebuildProjection,
  replayProjection,
  skipEvent,
} from '@meetmatt/infra';
import { type Invocation } from '../command';
import { CliError, DeclinedError, UsageError } from '../errors';
import {
  counted,
  describeWhen,
  formatCount,
  formatDuration,
  formatTime,
  intOption,
  parseWhen,
} from '../format';
import { type Runtime, type ServiceHandle } from '../runtime';
import { selectedServices, serviceInfo } from '../services';
import { listServices } from './shared';

interface Row extends ProjectionStatus {
  service: ServiceKey;
  /** The version the service's code defines, when it could be loaded. */
  codeVersion: number | undefined;
}

async function codeVersions(key: ServiceKey): Promise<Map<string, number>> {
  try {
    const definitions = await serviceInfo[key].projections();
    return new Map(definitions.map((p) => [p.name, p.version]));
  } catch {
    return new Map();
  }
}

async function statusRows(runtime: Runtime, keys: readonly ServiceKey[]): Promise<Row[]> {
  const handles = await runtime.services(keys);
  const perService = await Promise.all(
    handles.map(async (h) => {
      const [statuses, versions] = await Promise.all([
        listProjections({ db: h.database.db, store: h.store }),
        codeVersions(h.key),
      ]);
      return statuses.map((s) => ({ ...s, service: h.key, codeVersion: versions.get(s.name) }));
    }),
  );
  return perService.flat();
}

function lagText(row: Row): string {
  if (!row.lag) return '';
  if (row.lag.events === 0) return '0';
  return `${row.lag.capped ? '≥' : ''}${formatCount(row.lag.events)} (${formatDuration(row.lag.seconds * 1000)})`;
}

function statusJson(row: Row) {
  return {
    service: row.service,
    name: row.name,
    state: row.state,
    version: row.version,
    codeVersion: row.codeVersion,
    checkpoint: formatPosition(row.position),
    lag: row.lag
      ? {
          events: row.lag.events,
          capped: row.lag.capped,
          seconds: row.lag.seconds,
          head: row.lag.head && formatPosition(row.lag.head),
        }
      : undefined,
    eventsProcessed: row.eventsProcessed,
    leader: row.leader,
    updatedAt: row.updatedAt.toISOString(),
    error: row.error,
    failedEventId: row.failedEventId,
    failedPosition: row.failedPosition && formatPosition(row.failedPosition),
    rebuild: row.rebuild
      ? {
          version: row.rebuild.version,
          state: row.rebuild.state,
          position: formatPosition(row.rebuild.position),
          eventsDone: row.rebuild.eventsDone,
          error: row.rebuild.error,
          startedAt: row.rebuild.startedAt.toISOString(),
          updatedAt: row.rebuild.updatedAt.toISOString(),
        }
      : undefined,
  };
}

export async function projectionsList(
  runtime: Runtime,
  { values, json }: Invocation,
): Promise<void> {
  const rows = await statusRows(runtime, selectedServices(values.service as string | undefined));
  const out = runtime.out;
  if (json) {
    out.printJson({ projections: rows.map(statusJson) });
    return;
  }
  if (rows.length === 0) {
    out.line('no projections registered yet (a service registers its projections when it starts)');
    return;
  }
  out.table(
    [
      { header: 'SERVICE', value: (r: Row) => r.service },
      { header: 'PROJECTION', value: (r) => r.name },
      { header: 'STATE', value: (r) => r.state },
      {
        header: 'VERSION',
        value: (r) =>
          r.codeVersion !== undefined && r.codeVersion !== r.version
            ? `${r.version}→${r.codeVersion}`
            : String(r.version),
        align: 'right',
      },
      { header: 'CHECKPOINT', value: (r) => formatPosition(r.position) },
      { header: 'LAG', value: lagText, align: 'right' },
      { header: 'PROCESSED', value: (r) => formatCount(r.eventsProcessed), align: 'right' },
      { header: 'LEADER', value: (r) => r.leader ?? '', flex: true },
    ],
    rows,
  );
  for (const r of rows) {
    if (r.state === 'failed')
      out.line(
        `${r.service}/${r.name} failed on event ${r.failedEventId ?? '?'}: ${r.error ?? ''}`,
      );
    if (r.rebuild)
      out.line(
        `${r.service}/${r.name} rebuild of v${r.rebuild.version} ${r.rebuild.state}: ${counted(r.rebuild.eventsDone, 'event')}, at ${formatPosition(r.rebuild.position)}${r.rebuild.error ? `: ${r.rebuild.error}` : ''}`,
      );
  }
}

/** The service whose code defines projection `name` (one, or --service to choose). */
async function definitionOf(
  runtime: Runtime,
  name: string,
  keys: readonly ServiceKey[],
): Promise<{ handle: ServiceHandle; projection: Projection }> {
  const found: { key: ServiceKey; projection: Projection }[] = [];
  for (const key of keys) {
    const projection = (await serviceInfo[key].projections()).find((p) => p.name === name);
    if (projection) found.push({ key, projection });
  }
  if (found.length === 0)
    throw new CliError(`no projection named ${JSON.stringify(name)} in ${listServices(keys)}`);
  if (found.length > 1)
    throw new UsageError(
      `${name} is a projection of ${found.map((f) => f.key).join(' and ')}: pass --service`,
    );
  return { handle: await runtime.service(found[0]!.key), projection: found[0]!.projection };
}

/** The service whose database has a projection called `name` registered. */
async function registeredOf(
  runtime: Runtime,
  name: string,
  keys: readonly ServiceKey[],
): Promise<{ handle: ServiceHandle; status: ProjectionStatus }> {
  const handles = await runtime.services(keys);
  const found: { handle: ServiceHandle; status: ProjectionStatus }[] = [];
  for (const handle of handles) {
    const status = (await listProjections({ db: handle.database.db })).find((s) => s.name === name);
    if (status) found.push({ handle, status });
  }
  if (found.length === 0)
    throw new CliError(`no projection named ${JSON.stringify(name)} in ${listServices(keys)}`);
  if (found.length > 1)
    throw new UsageError(
      `${name} is a projection of ${found.map((f) => f.handle.key).join(' and ')}: pass --service`,
    );
  return found[0]!;
}

function progressDetail(p: RebuildProgress): string {
  const left =
    p.estimatedSecondsLeft === undefined
      ? ''
      : `  ~${formatDuration(p.estimatedSecondsLeft * 1000)} left`;
  const phase = p.phase === 'building' ? '' : `  ${p.phase}`;
  return `${formatCount(p.eventsDone)} events  ${formatCount(p.eventsPerSecond)} ev/s  at ${formatPosition(p.position)}${left}${phase}`;
}

export async function projectionsRebuild(
  runtime: Runtime,
  { args, values, json, yes, dryRun }: Invocation,
): Promise<void> {
  const name = args[0]!;
  const batchSize = intOption(values['batch-size'] as string | undefined, '--batch-size', 2_000);
  const keys = selectedServices(values.service as string | undefined);
  const { handle, projection } = await definitionOf(runtime, name, keys);
  const status = (await listProjections({ db: handle.database.db, store: handle.store })).find(
    (s) => s.name === name,
  );
  const head = await handle.store.headPosition();
  const out = runtime.out;
  const plan = {
    service: handle.key,
    projection: name,
    liveVersion: status?.version,
    version: projection.version,
    head: head ? formatPosition(head) : undefined,
    eventsProcessed: status?.eventsProcessed,
    resumable:
      status?.rebuild?.state === 'building' &&
      status.rebuild.version === projection.version &&
      values.fresh !== true,
  };
  const what = `rebuild ${handle.key}/${name} (v${status?.version ?? '-'} → v${projection.version}) from position 0 up to ${plan.head ?? 'the empty head'}`;
  if (dryRun) {
    if (json) out.printJson({ dryRun: true, ...plan });
    else
      out.line(
        `would ${what}${plan.resumable ? `, resuming at ${counted(status!.rebuild!.eventsDone, 'event')}` : ''}; the live tables keep serving meanwhile`,
      );
    return;
  }
  await out.confirm(`${what[0]!.toUpperCase()}${what.slice(1)}, then swap it in?`, yes);
  const progress = out.progress(`rebuild ${name}`);
  try {
    const result = await rebuildProjection(handle.projectionContext(), projection, {
      batchSize,
      signal: runtime.signal,
      fresh: values.fresh === true,
      onProgress: (p) => {
        if (p.phase === 'done') return;
        progress.update(p.fraction, progressDetail(p), p.phase !== 'building');
      },
    });
    progress.done(
      `${formatCount(result.eventsDone)} events  ${formatCount(result.eventsPerSecond)} ev/s  at ${formatPosition(result.position)}  swapped in`,
    );
    if (json) {
      out.printJson({
        service: handle.key,
        projection: result.projection,
        version: result.version,
        eventsDone: result.eventsDone,
        seconds: result.seconds,
        eventsPerSecond: result.eventsPerSecond,
        position: formatPosition(result.position),
        resumed: result.resumed,
      });
    } else {
      out.line(
        `rebuilt ${handle.key}/${result.projection} v${result.version}: ${counted(result.eventsDone, 'event')} in ${formatDuration(result.seconds * 1000)} (${formatCount(result.eventsPerSecond)} events/s)${result.resumed ? ', resumed' : ''}; live from ${formatPosition(result.position)}`,
      );
    }
  } catch (error) {
    progress.interrupt();
    if (runtime.signal.aborted)
      throw new CliError(`rebuild of ${name} paused; run the same command again to resume it`, 130);
    if (error instanceof PoisonEventError)
      throw new CliError(`rebuild of ${name} stopped at event ${error.eventId}: ${error.reason}`);
    if (error instanceof ProjectionStateError) throw new CliError(error.message);
    throw error;
  }
}

export async function projectionsReplay(
  runtime: Runtime,
  { args, values, json, yes, dryRun }: Invocation,
): Promise<void> {
  const name = args[0]!;
  if (values.from === undefined)
    throw new UsageError('projections replay needs --from <position|time>');
  const from = parseWhen(values.from as string, '--from');
  const { handle, status } = await registeredOf(
    runtime,
    name,
    selectedServices(values.service as string | undefined),
  );
  const target: Position | undefined =
    from instanceof Date ? await positionBefore(handle.store, from) : from;
  if (!target)
    throw new CliError(`nothing was recorded since ${describeWhen(from)}: nothing to replay`);
  const again = await handle.store.readAll({
    after: target,
    filter: { eventTypes: status.eventTypes },
    maxCount: 100_000,
  });
  const out = runtime.out;
  const summary = {
    service: handle.key,
    projection: name,
    from: formatPosition(status.position),
    to: formatPosition(target),
    events: again.length,
    capped: again.length >= 100_000,
  };
  const what = `move ${handle.key}/${name} back from ${summary.from} to ${summary.to}: ${summary.capped ? 'at least ' : ''}${counted(summary.events, 'event')} applied again`;
  if (dryRun) {
    if (json) out.printJson({ dryRun: true, ...summary });
    else out.line(`would ${what}`);
    return;
  }
  await out.confirm(`${what[0]!.toUpperCase()}${what.slice(1)}?`, yes);
  try {
    const position = await replayProjection(handle.projectionContext(), name, target);
    if (json) out.printJson({ ...summary, to: formatPosition(position) });
    else
      out.line(
        `${handle.key}/${name} replays from ${formatPosition(position)} (${counted(summary.events, 'event')}); its runner picks it up within a second`,
      );
  } catch (error) {
    if (error instanceof ProjectionStateError) throw new CliError(error.message);
    throw error;
  }
}

export async function projectionsSkip(
  runtime: Runtime,
  { args, values, json, yes, dryRun }: Invocation,
): Promise<void> {
  const [name, eventId] = [args[0]!, args[1]!];
  const { handle, status } = await registeredOf(
    runtime,
    name,
    selectedServices(values.service as string | undefined),
  );
  if (status.storedState !== 'failed')
    throw new CliError(
      `projection ${name} has not failed (it is ${status.state}): nothing to skip`,
    );
  if (status.failedEventId !== eventId)
    throw new CliError(
      `projection ${name} failed on event ${status.failedEventId}, not ${eventId}`,
    );
  const event = await handle.store.readEvent(eventId);
  const out = runtime.out;
  const detail = {
    service: handle.key,
    projection: name,
    eventId,
    type: event?.type,
    stream: event?.streamId,
    error: status.error,
  };
  if (!json) {
    out.fields([
      ['projection', `${handle.key}/${name} (failed)`],
      [
        'event',
        `${eventId} ${event ? `${event.type} in ${event.streamId} @ ${event.revision}, ${formatTime(event.createdAt)} UTC` : '(not in the store)'}`,
      ],
      ['error', status.error ?? ''],
    ]);
  }
  if (dryRun) {
    if (json) out.printJson({ dryRun: true, ...detail });
    else out.line(`would skip it; ${name} would carry on after it`);
    return;
  }
  await out.confirm(`Skip event ${eventId} in ${name} for good?`, yes).catch((error: unknown) => {
    throw error instanceof DeclinedError
      ? new DeclinedError('not skipped; the projection stays failed')
      : error;
  });
  try {
    await skipEvent(handle.projectionContext(), name, eventId);
  } catch (error) {
    if (error instanceof ProjectionStateError) throw new CliError(error.message);
    throw error;
  }
  if (json) out.printJson({ skipped: true, ...detail });
  else out.line(`skipped; ${handle.key}/${name} carries on after ${eventId}`);
}
