import { type Logger } from '@meetmatt/infra';
import { type SandboxClock } from './sandbox-clock';
import { type SandboxPayment, ipnBody } from './sandbox-model';
import { signIpn } from './signature';

export type IpnDeliveryState =
  /** Waiting for its turn (reversed delivery holds IPNs until the payment is final). */
  | 'held'
  /** Being sent, or waiting for the next attempt after a failure. */
  | 'sending'
  | 'delivered'
  /** Every attempt failed. */
  | 'failed'
  /** Never sent: a lost webhook, or the payment has no `ipn_callback_url`. */
  | 'dropped';

export type IpnReason = 'status-change' | 'duplicate' | 'resend';

export interface IpnAttempt {
  at: string;
  /** The receiver's HTTP status; null when no answer arrived. */
  statusCode: number | null;
  /** `timeout` or the network error; null when an answer arrived. */
  error: string | null;
  durationMs: number;
  /** The start of the receiver's answer, for debugging a demo. */
  response: string | null;
}

export interface IpnDelivery {
  id: string;
  paymentId: number;
  orderId: string | null;
  status: string;
  url: string | null;
  reason: IpnReason;
  state: IpnDeliveryState;
  dropReason: 'lost-ipn' | 'no-callback-url' | null;
  body: Record<string, unknown>;
  signature: string;
  attempts: IpnAttempt[];
  createdAt: string;
}

export interface IpnSenderOptions {
  ipnSecret: string;
  clock: SandboxClock;
  /** Attempts per IPN, the first included. */
  maxAttempts: number;
  /** NOWPayments counts an answer slower than 3 seconds as a failure and resends. */
  timeoutMs: number;
  /** Delay before attempt n+1 after attempt n failed. */
  retryDelayMs: (failedAttempt: number) => number;
  logger?: Logger | undefined;
}

const RESPONSE_PREVIEW = 300;

/**
 * Signs and POSTs IPNs, resending after a non-2xx answer or a timeout, and records every attempt.
 * First attempts go out one at a time per payment, in the order they were queued, so a test sees
 * statuses in order unless a scenario (or a retry) says otherwise.
 */
export class IpnSender {
  private readonly deliveries: IpnDelivery[] = [];
  private readonly lanes = new Map<number, Promise<void>>();
  private readonly stopController = new AbortController();
  private sequence = 0;

  constructor(private readonly options: IpnSenderOptions) {}

  /** Snapshots the payment as it is now into a signed IPN, in `state`; `send` sends it. */
  record(
    payment: SandboxPayment,
    reason: IpnReason,
    state: 'held' | 'sending' | 'dropped' = 'sending',
    dropReason: IpnDelivery['dropReason'] = null,
  ): IpnDelivery {
    const body = ipnBody(payment);
    const noUrl = payment.ipnCallbackUrl === null;
    const delivery: IpnDelivery = {
      id: `ipn_${++this.sequence}`,
      paymentId: payment.id,
      orderId: payment.orderId,
      status: payment.status,
      url: payment.ipnCallbackUrl,
      reason,
      state: noUrl ? 'dropped' : state,
      dropReason: noUrl ? 'no-callback-url' : dropReason,
      body,
      signature: signIpn(body, this.options.ipnSecret),
      attempts: [],
      createdAt: this.options.clock.now().toISOString(),
    };
    this.deliveries.push(delivery);
    return delivery;
  }

  /** A copy of an earlier delivery (same body and signature), as an operator's manual resend. */
  copy(original: IpnDelivery): IpnDelivery {
    const delivery: IpnDelivery = {
      ...original,
      id: `ipn_${++this.sequence}`,
      reason: 'resend',
      state: original.url === null ? 'dropped' : 'sending',
      attempts: [],
      createdAt: this.options.clock.now().toISOString(),
    };
    this.deliveries.push(delivery);
    return delivery;
  }

  /** Sends an earlier IPN again `times` times; undefined when there is no such delivery. */
  resend(deliveryId: string, times: number): IpnDelivery[] | undefined {
    const original = this.find(deliveryId);
    if (!original) return undefined;
    const copies = Array.from({ length: times }, () => this.copy(original));
    for (const copy of copies) this.send(copy);
    return copies;
  }

  send(delivery: IpnDelivery): void {
    if (delivery.state === 'dropped') return;
    delivery.state = 'sending';
    const previous = this.lanes.get(delivery.paymentId) ?? Promise.resolve();
    this.lanes.set(
      delivery.paymentId,
      previous.then(() => this.attempt(delivery)),
    );
  }

  list(filter: { paymentId?: number; orderId?: string } = {}): IpnDelivery[] {
    return this.deliveries.filter(
      (d) =>
        (filter.paymentId === undefined || d.paymentId === filter.paymentId) &&
        (filter.orderId === undefined || d.orderId === filter.orderId),
    );
  }

  find(id: string): IpnDelivery | undefined {
    return this.deliveries.find((d) => d.id === id);
  }

  /** Aborts what is in flight; the clock's stop clears the pending retries. */
  stop(): void {
    this.stopController.abort();
  }

  private async attempt(delivery: IpnDelivery): Promise<void> {
    if (this.options.clock.isStopped || delivery.url === null) return;
    const attempt = await this.post(delivery.url, delivery);
    delivery.attempts.push(attempt);
    const number = delivery.attempts.length;
    const ok = attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300;
    if (ok) delivery.state = 'delivered';
    else if (number >= this.options.maxAttempts) delivery.state = 'failed';
    this.log(delivery, attempt, number);
    if (!ok && delivery.state !== 'failed') {
      this.options.clock.after(
        this.options.retryDelayMs(number),
        () => void this.attempt(delivery),
      );
    }
  }

  private async post(url: string, delivery: IpnDelivery): Promise<IpnAttempt> {
    const at = this.options.clock.now().toISOString();
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-nowpayments-sig': delivery.signature },
        // Sent in NOWPayments' field order, not sorted: the receiver must sort to verify.
        body: JSON.stringify(delivery.body),
        signal: AbortSignal.any([timeout, this.stopController.signal]),
      });
      const text = await response.text();
      return {
        at,
        statusCode: response.status,
        error: null,
        durationMs: durationMs(),
        response: text.slice(0, RESPONSE_PREVIEW),
      };
    } catch (error) {
      const message = timeout.aborted ? 'timeout' : describeFetchError(error);
      return { at, statusCode: null, error: message, durationMs: durationMs(), response: null };
    }
  }

  private log(delivery: IpnDelivery, attempt: IpnAttempt, number: number): void {
    const fields = {
      delivery: delivery.id,
      paymentId: delivery.paymentId,
      orderId: delivery.orderId,
      status: delivery.status,
      attempt: number,
      answer: attempt.statusCode ?? attempt.error,
      durationMs: attempt.durationMs,
    };
    if (delivery.state === 'delivered') this.options.logger?.info('ipn delivered', fields);
    else
      this.options.logger?.warn(
        `ipn ${delivery.state === 'failed' ? 'given up' : 'will be resent'}`,
        fields,
      );
  }
}

/** Duck-typed: fetch's errors may come from another realm (jest), where instanceof fails. */
function describeFetchError(error: unknown): string {
  const cause: unknown = (error as { cause?: unknown } | null)?.cause ?? error;
  const message = (cause as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(cause);
}
