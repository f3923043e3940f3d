import { REVOCATION_MARGIN_SECONDS, RevocationList } from '@meetmatt/infra';

/**
 * Sessions and API keys whose access tokens must be refused: infra's list, the one payment and
 * brain keep too, fed here from this service's own store (the live feed) rather than the bus,
 * so /auth/verify needs no database. `windowMs` is how long an entry is kept: the longest token
 * life plus infra's margin.
 */
export class Revocations extends RevocationList {
  constructor(windowMs: number) {
    super(windowMs / 1000 - REVOCATION_MARGIN_SECONDS);
  }
}
