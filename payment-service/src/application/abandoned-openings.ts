import { type Logger } from '@meetmatt/infra';
import { type OpenPaymentCommand } from '../domain/payment-decide';
import { type PaymentOpenings } from './openings';
import { type PaymentCommands } from './payment-commands';

/**
 * Records a payment NOWPayments opened whose recording failed, from the answer its opening
 * kept: true once the payment is recorded (by this call or before it), false when there is no
 * answer to record.
 */
export async function recordAnsweredOpening(
  paymentId: string,
  commands: PaymentCommands,
  openings: PaymentOpenings,
  logger: Logger,
): Promise<boolean> {
  const answer = await openings.answerOf(paymentId);
  if (!answer) return false;
  const data = answer.data as OpenPaymentCommand['data'];
  const result = await commands.execute(
    paymentId,
    { type: 'OpenPayment', data, now: answer.now },
    { userId: data.userId },
  );
  if (!result.ok && result.error.code !== 'payment-exists')
    throw new Error(`payment ${paymentId} not recorded: ${result.error.message}`);
  await openings.end(paymentId);
  logger.warn('payment opened at NOWPayments recorded after its request failed', {
    paymentId,
    providerPaymentId: data.providerPaymentId,
  });
  return true;
}
