import { type Position, comparePositions } from '../event-store/types';
import { type PassOutcome, blockedBy } from './blocked';
import { type ResolvedContext } from './context';
import { type Projection } from './projection';
import { loadStatusRow, storedPosition } from './status-rows';

/**
 * Read-your-writes when another instance leads: whether the projection has passed `position`,
 * as far as the status table its leader writes tells; undefined while it has not yet.
 */
export async function passedElsewhere(
  context: ResolvedContext,
  projection: Projection,
  position: Position,
): Promise<PassOutcome | undefined> {
  const row = await loadStatusRow(context.db, projection.name);
  if (!row) return undefined;
  const blocked = blockedBy(row, projection);
  if (blocked) return blocked;
  const checkpoint = storedPosition(row.position);
  if (comparePositions(checkpoint, position) >= 0) return 'passed';
  // A leader stores checkpoints that only skipped unwanted events lazily: what matters is
  // whether an event it wants lies between its checkpoint and `position`, all of them visible.
  const head = await context.store.headPosition();
  if (!head || comparePositions(head, position) < 0) return undefined;
  const [next] = await context.store.readAll({
    after: checkpoint,
    filter: { eventTypes: [...projection.eventTypes] },
    maxCount: 1,
  });
  return !next || comparePositions(next.position, position) > 0 ? 'passed' : undefined;
}
