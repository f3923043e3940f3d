import { type EventOf, type agentEvents } from '@meetmatt/contracts';
import {
  type ConsumedEvent,
  type HandlerResult,
  type Logger,
  RejectMessageError,
} from '@meetmatt/infra';
import { PAYMENT_NOT_FOUND } from '../domain/payment-decide';
import { type PaymentCommands, type PaymentCommandResult, nowIso } from './payment-commands';

type AgentDeployFailed = EventOf<(typeof agentEvents)['deployFailed']>;

/**
 * Refunds: NOWPayments has no refund API, so a refund is asked for (by an operator, or by the
 * system when a paid deployment fails for good) and completed by an operator who paid it back.
 */
export class Refunds {
  constructor(
    private readonly commands: PaymentCommands,
    private readonly logger: Logger,
  ) {}

  request(paymentId: string, reason: string, operatorId: string): Promise<PaymentCommandResult> {
    return this.commands.execute(paymentId, {
      type: 'RequestRefund',
      reason,
      requestedBy: 'operator',
      operatorId,
      now: nowIso(),
    });
  }

  complete(
    paymentId: string,
    reference: string,
    operatorId: string,
  ): Promise<PaymentCommandResult> {
    return this.commands.execute(paymentId, {
      type: 'CompleteRefund',
      reference,
      operatorId,
      now: nowIso(),
    });
  }

  /**
   * brain's `agent.deploy-failed`: a final failure of the first build (the one the payment bought)
   * asks for the refund by itself; a failed rebuild does not, since the customer keeps the deployed
   * agent and a refund would also block every later build. A redelivery
   * finds the refund already asked for and changes nothing; a message about a payment we do not
   * have, or one that was never paid, is parked for an operator.
   */
  async onDeployFailed(event: ConsumedEvent<AgentDeployFailed>): Promise<HandlerResult> {
    const { data } = event;
    if (!data.final || data.build > 1) return 'processed';
    const result = await this.commands.execute(
      data.paymentId,
      {
        type: 'RequestRefund',
        reason: `The agent could not be deployed: ${data.reason}`.slice(0, 1_000),
        requestedBy: 'system',
        operatorId: null,
        now: nowIso(),
      },
      { correlationId: event.correlationId, causationId: event.id, userId: data.userId },
    );
    if (!result.ok) {
      const why =
        result.error.code === PAYMENT_NOT_FOUND
          ? `no payment ${data.paymentId}`
          : result.error.message;
      throw new RejectMessageError(`refund not requested: ${why}`);
    }
    if (result.events.length === 0) return 'duplicate';
    this.logger.info('refund requested after a failed deployment', {
      paymentId: data.paymentId,
      agentId: data.agentId,
    });
    return 'processed';
  }
}
