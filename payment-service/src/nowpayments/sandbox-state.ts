import { type SandboxInvoice, type SandboxPayment } from './sandbox-model';

/** One request the sandbox's `/v1` API received (the API key itself is never kept). */
export interface SandboxCall {
  at: string;
  method: string;
  path: string;
  query: Record<string, unknown>;
  body: unknown;
  apiKey: 'valid' | 'invalid' | 'missing';
  status: number;
}

/** Everything the sandbox remembers, in memory: gone when the process ends. */
export class SandboxState {
  readonly payments = new Map<number, SandboxPayment>();
  readonly invoices = new Map<number, SandboxInvoice>();
  readonly calls: SandboxCall[] = [];
  // Ten digits like NOWPayments' ids, from a random start so a restarted sandbox does not
  // hand out the ids of the previous run again.
  private lastId = 4_000_000_000 + Math.floor(Math.random() * 1_000_000_000);

  nextId(): number {
    this.lastId += 1 + Math.floor(Math.random() * 7);
    return this.lastId;
  }

  findPayment(id: string | number): SandboxPayment | undefined {
    const key = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
    return this.payments.get(key);
  }

  findInvoice(id: string | number): SandboxInvoice | undefined {
    const key = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
    return this.invoices.get(key);
  }
}
