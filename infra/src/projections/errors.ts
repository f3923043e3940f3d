/**
 * The checkpoint a batch started from is no longer the stored one (a rebuild swapped, an
 * operator reset, replayed or skipped, another instance applied it, the projection was stopped):
 * the batch is rolled back and the runner resubscribes from what is stored.
 */
export class CheckpointMovedError extends Error {
  constructor(
    readonly projection: string,
    reason: string,
  ) {
    super(`projection ${projection}: ${reason}`);
    this.name = 'CheckpointMovedError';
  }
}

/** An event the projection cannot apply; recorded in its status, which stops it. */
export class PoisonEventError extends Error {
  constructor(
    readonly projection: string,
    readonly eventId: string,
    readonly reason: string,
  ) {
    super(`projection ${projection} cannot apply event ${eventId}: ${reason}`);
    this.name = 'PoisonEventError';
  }
}

/** An operator action that does not fit the projection's current state. */
export class ProjectionStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProjectionStateError';
  }
}

/**
 * SQLSTATE classes that say nothing about the event: the connection, the server or a concurrent
 * transaction failed, and the same batch may well succeed when tried again.
 * 08 connection, 40 rollback (serialization, deadlock), 53 resources, 57 operator
 * intervention (shutdown, cancelled statement), 58 system error.
 */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', '58']);
const TRANSIENT_MESSAGE =
  /Connection terminated|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

/** A failure worth retrying, as opposed to one that the event itself causes (a poison event). */
export function isTransientError(error: unknown): boolean {
  if (error instanceof CheckpointMovedError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // Node's socket errors (ECONNRESET, EPIPE…); no SQLSTATE class starts with E.
    if (/^E[A-Z]+$/.test(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_CLASSES.has(code.slice(0, 2));
  }
  return TRANSIENT_MESSAGE.test(errorMessage(error));
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
