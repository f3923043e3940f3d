import { createHash, randomBytes } from 'node:crypto';
import { type QueryExecutorProvider, sql } from 'kysely';
import { type Principal } from '@meetmatt/infra';

/** Who a ticket opens a stream for, and until when that stream may stay open. */
export interface TicketHolder {
  userId: string;
  sessionId: string;
  apiKeyId: string | null;
  /** When the access token that asked for the ticket expires: the stream ends then. */
  accessExpiresAt: Date;
}

export interface IssuedTicket {
  ticket: string;
  expiresAt: Date;
}

interface TicketRow {
  user_id: string;
  session_id: string;
  api_key_id: string | null;
  access_expires_at: Date;
  expires_at: Date;
}

const hash = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');

/**
 * Short-lived, single-use tickets for EventSource, kept in PostgreSQL so that any instance can
 * take a ticket another one issued. Only the ticket's hash is stored; redeeming deletes the row
 * in the same statement that reads it, so two requests racing with one ticket cannot both win.
 */
export class StreamTickets {
  constructor(
    // The ticket table is reached only through the raw SQL here, so any Kysely of the service does.
    private readonly db: QueryExecutorProvider,
    private readonly ttlMs: number,
    private readonly now: () => Date,
  ) {}

  async issue(principal: Principal, accessExpiresAt: Date): Promise<IssuedTicket> {
    const ticket = `st_${randomBytes(32).toString('base64url')}`;
    const now = this.now();
    const expiresAt = new Date(now.getTime() + this.ttlMs);
    // Housekeeping as we go: tickets never used are dropped once expired.
    await sql`DELETE FROM stream_tickets WHERE expires_at < ${now}`.execute(this.db);
    await sql`
      INSERT INTO stream_tickets
        (ticket_hash, user_id, session_id, api_key_id, access_expires_at, expires_at)
      VALUES (${hash(ticket)}, ${principal.userId}, ${principal.sessionId},
        ${principal.apiKeyId ?? null}, ${accessExpiresAt}, ${expiresAt})`.execute(this.db);
    return { ticket, expiresAt };
  }

  /** The holder, once: undefined for a ticket never issued, already used, or expired. */
  async redeem(ticket: string): Promise<TicketHolder | undefined> {
    const { rows } = await sql<TicketRow>`
      DELETE FROM stream_tickets WHERE ticket_hash = ${hash(ticket)}
      RETURNING user_id, session_id, api_key_id, access_expires_at, expires_at`.execute(this.db);
    const row = rows[0];
    if (!row || row.expires_at.getTime() <= this.now().getTime()) return undefined;
    return {
      userId: row.user_id,
      sessionId: row.session_id,
      apiKeyId: row.api_key_id,
      accessExpiresAt: row.access_expires_at,
    };
  }
}
