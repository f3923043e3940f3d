import { type Projection } from './projection';
import { type StatusRow } from './status-rows';

/** Why a projection's leader does not apply: read-your-writes waits stop waiting at once. */
export type BlockedReason = 'failed' | 'stopped' | 'rebuilding' | 'newer-version';

export type PassOutcome = 'passed' | 'timeout' | BlockedReason;

/** What keeps this code from applying to the live tables, as the status row says. */
export function blockedBy(row: StatusRow, projection: Projection): BlockedReason | undefined {
  if (row.state === 'failed') return 'failed';
  if (row.state === 'stopped') return 'stopped';
  if (row.version < projection.version) return 'rebuilding';
  if (row.version > projection.version) return 'newer-version';
  return undefined;
}
