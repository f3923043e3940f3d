import { redact } from '@meetmatt/infra';

export interface RecordedCall {
  at: string;
  method: string;
  path: string;
  query: Record<string, unknown>;
  /** Secret-looking fields redacted; headers (the API key) are never recorded. */
  body: unknown;
  status: number;
}

/** Enough for any test; a long demo run forgets its oldest calls instead of growing forever. */
const MAX_CALLS = 5000;

/** The Devin API calls the sandbox received, for tests to assert what the brain sent. */
export class CallLog {
  private calls: RecordedCall[] = [];

  record(call: RecordedCall): void {
    this.calls.push({ ...call, body: redact(call.body) });
    if (this.calls.length > MAX_CALLS) this.calls.splice(0, this.calls.length - MAX_CALLS);
  }

  list(): RecordedCall[] {
    return [...this.calls];
  }

  clear(): void {
    this.calls = [];
  }
}
