import { type Position } from './types';

/** A stream's state as a command handler last saw it. */
export interface CachedState<State> {
  state: State;
  /** The revision the state is at (-1: no stream). */
  revision: number;
  /** The correlation id of the stream's first event: its journey. */
  correlationId: string | undefined;
  /** The `$all` position of the event the state is at, when known. */
  position?: Position;
}

export interface StateCacheOptions<State> {
  /** Streams remembered at most; the least recently used goes first (0: none). */
  size: number;
  /** Which states are worth remembering (e.g. only streams that exist). */
  keep?: (state: State) => boolean;
}

/**
 * The latest states of recently used streams, so the next command on one decides without
 * reading its stream again. It pays where the same stream takes command after command (a
 * payment's IPNs); `handleCommand` keeps it safe when other instances append too: a cached state
 * can only be behind, and appending with its revision then conflicts and reads again, and a
 * refusal decided on it is decided again on a fresh read. Only for deciders whose "nothing to
 * do" stays true of every later state (a fingerprint, an invoice already there): that answer is
 * given from the cache.
 */
export class StateCache<State> {
  private readonly recent = new Map<string, CachedState<State>>();

  constructor(private readonly options: StateCacheOptions<State>) {}

  get(streamId: string): CachedState<State> | undefined {
    return this.recent.get(streamId);
  }

  remember(streamId: string, seen: CachedState<State>): void {
    if (this.options.size === 0 || (this.options.keep && !this.options.keep(seen.state))) return;
    const known = this.recent.get(streamId);
    // Two commands on one stream at once: keep whichever saw more of it.
    if (known && known.revision > seen.revision) return;
    this.recent.delete(streamId);
    const { state, revision, correlationId } = seen; // not the events a loaded stream carries
    this.recent.set(streamId, { state, revision, correlationId });
    if (this.recent.size > this.options.size) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  forget(streamId: string): void {
    this.recent.delete(streamId);
  }
}
