import { formatPosition } from '../event-store/types';
import { type ReadinessCheck, type ReadinessResult } from '../http/readiness';
import { type Relay } from './relay';

/** Anything with a queue that can say whether it is consuming (a `Consumer`). */
export interface ConsumerState {
  readonly queue: string;
  readonly consuming: boolean;
  readonly handling: number;
  readonly lastError: string | undefined;
}

/** Ready while every consumer is registered on its queue. */
export function consumersReadiness(consumers: readonly ConsumerState[]): ReadinessCheck {
  return {
    name: 'consumers',
    check: async (): Promise<ReadinessResult> => {
      const details = Object.fromEntries(
        consumers.map((c) => [c.queue, { consuming: c.consuming, handling: c.handling }]),
      );
      const idle = consumers.find((c) => !c.consuming);
      if (!idle) return { ok: true, details };
      return {
        ok: false,
        error: `${idle.queue} not consuming${idle.lastError ? `: ${idle.lastError}` : ''}`,
        details,
      };
    },
  };
}

/**
 * Reports the relay's state. A follower instance is fine (another one relays); the leader is
 * not ready when it has fallen more than `maxLagEvents` behind the store, which means the broker
 * has been refusing it for a while.
 */
export function relayReadiness(relay: Relay, maxLagEvents = 10_000): ReadinessCheck {
  return {
    name: 'relay',
    check: async (): Promise<ReadinessResult> => {
      const status = relay.status();
      const lag = status.leader ? await relay.lag() : undefined;
      const details = {
        leader: status.leader,
        caughtUp: status.caughtUp,
        position: status.position ? formatPosition(status.position) : null,
        behind: lag?.behind ?? 0,
        relayed: status.relayed,
        unroutable: status.unroutable,
      };
      if (lag && lag.behind > maxLagEvents) {
        return { ok: false, error: `relay ${lag.behind} events behind`, details };
      }
      return { ok: true, details };
    },
  };
}
