import { type PaymentStatus } from '@meetmatt/contracts';
import { type SandboxClock } from './sandbox-clock';
import { type IpnDelivery, type IpnSender } from './sandbox-ipn';
import { type SandboxPayment, applyStatus } from './sandbox-model';
import { FINAL_STATUSES, SCENARIO_STEPS, type ScenarioStep } from './sandbox-scenarios';

/** Opens a repeat deposit of `amount` to `parent`'s address as a payment of its own. */
export type OpenRepeatDeposit = (parent: SandboxPayment, amount: number) => SandboxPayment;

/**
 * Plays each payment's scenario on the clock, one status per step, and hands every status
 * change to the IPN sender with the scenario's delivery quirks applied.
 */
export class ScenarioPlayer {
  private readonly nextStep = new Map<number, NodeJS.Timeout | undefined>();
  private readonly held = new Map<number, IpnDelivery[]>();

  constructor(
    private readonly clock: SandboxClock,
    private readonly ipns: IpnSender,
    private readonly openRepeatDeposit?: OpenRepeatDeposit,
  ) {}

  play(payment: SandboxPayment): void {
    if (payment.scenario.outcome === 'manual') return;
    this.schedule(payment, SCENARIO_STEPS[payment.scenario.outcome], 0);
  }

  /**
   * An outside order (the control API): the payment takes `status` now, and whatever was left
   * of its scenario is dropped so the two do not fight over it.
   */
  override(payment: SandboxPayment, status: PaymentStatus, actuallyPaid?: number): void {
    this.clock.cancel(this.nextStep.get(payment.id));
    this.nextStep.delete(payment.id);
    this.change(payment, status, actuallyPaid ?? payment.payAmount * defaultPaidShare(status));
  }

  private schedule(payment: SandboxPayment, steps: readonly ScenarioStep[], index: number): void {
    const step = steps[index];
    if (step === undefined) {
      this.nextStep.delete(payment.id);
      if (payment.scenario.outcome === 'split') this.depositTheRest(payment);
      return;
    }
    const timer = this.clock.after(this.clock.stepMs, () => {
      this.change(payment, step.status, payment.payAmount * step.paidShare);
      this.schedule(payment, steps, index + 1);
    });
    this.nextStep.set(payment.id, timer);
  }

  /** A split payment: what did not arrive with the first deposit arrives as a repeat one. */
  private depositTheRest(payment: SandboxPayment): void {
    const rest = payment.payAmount - payment.actuallyPaid;
    if (rest <= 0 || !this.openRepeatDeposit) return;
    const timer = this.clock.after(this.clock.stepMs, () => {
      this.nextStep.delete(payment.id);
      this.play(this.openRepeatDeposit!(payment, rest));
    });
    this.nextStep.set(payment.id, timer);
  }

  private change(payment: SandboxPayment, status: PaymentStatus, actuallyPaid: number): void {
    applyStatus(payment, status, actuallyPaid, this.clock.now());
    this.announce(payment, FINAL_STATUSES.has(status));
  }

  private announce(payment: SandboxPayment, final: boolean): void {
    const { scenario } = payment;
    if (final && scenario.loseFinalIpn) {
      this.ipns.record(payment, 'status-change', 'dropped', 'lost-ipn');
    } else {
      for (let copy = 0; copy < scenario.copies; copy += 1) {
        const reason = copy === 0 ? 'status-change' : 'duplicate';
        const delivery = this.ipns.record(payment, reason, scenario.reverse ? 'held' : 'sending');
        if (scenario.reverse) this.hold(payment.id, delivery);
        else this.ipns.send(delivery);
      }
    }
    if (final) this.release(payment.id);
  }

  private hold(paymentId: number, delivery: IpnDelivery): void {
    const list = this.held.get(paymentId) ?? [];
    list.push(delivery);
    this.held.set(paymentId, list);
  }

  /** Reversed delivery: everything held goes out newest first once the payment is final. */
  private release(paymentId: number): void {
    const list = this.held.get(paymentId) ?? [];
    this.held.delete(paymentId);
    for (const delivery of list.reverse()) this.ipns.send(delivery);
  }
}

/** What a status implies was deposited, when the control call does not say. */
function defaultPaidShare(status: PaymentStatus): number {
  if (status === 'waiting' || status === 'expired' || status === 'cancelled') return 0;
  return status === 'partially_paid' ? 0.5 : 1;
}
