import { createHash, randomUUID } from 'node:crypto';
import { type AgentSpec, type CreatePaymentResponseSchema } from '@meetmatt/contracts';
import { type Logger, type Position } from '@meetmatt/infra';
import { type z } from 'zod';
import { type PaymentCreated } from '../domain/payment';
import { type OpenPaymentCommand, paymentStreamId } from '../domain/payment-decide';
import { type NowPayment, type NowPaymentsClient, NowPaymentsError } from '../nowpayments';
import { canonicalIpnJson } from '../nowpayments/signature';
import { type Catalogue } from './catalogue';
import { type IdempotencyKeys } from './idempotency';
import { type PaymentOpenings } from './openings';
import { type PaymentCommands, nowIso } from './payment-commands';

export type CreatePaymentResponse = z.infer<typeof CreatePaymentResponseSchema>;

export interface CreatePaymentRequest {
  plan: string;
  payCurrency: string;
  agent: AgentSpec;
  autoDeploy: boolean;
}

export type CreatePaymentOutcome =
  | { ok: true; response: CreatePaymentResponse; replayed: boolean }
  | { ok: false; error: 'unknown-plan'; knownPlans: string[] }
  | { ok: false; error: 'unsupported-currency'; supported: readonly string[] }
  | { ok: false; error: 'idempotency-key-reused' | 'idempotency-key-in-progress' }
  | { ok: false; error: 'provider-failed'; detail: string };

export interface CreatePaymentDeps {
  commands: PaymentCommands;
  provider: NowPaymentsClient;
  catalogue: Catalogue;
  /** The coins a customer may pay with (PAYMENT_CURRENCIES). */
  payCurrencies: readonly string[];
  idempotency: IdempotencyKeys;
  openings: PaymentOpenings;
  /** Our webhook, resolved when the service knows its own address. */
  ipnCallbackUrl: () => string;
  /** Read-your-writes: resolves once the read models have the new payment. */
  waitForProjections: (position: Position | undefined) => Promise<unknown>;
  logger: Logger;
}

/**
 * POST /payments/create: the price comes from the catalogue, NOWPayments opens the payment, and
 * only its answer is recorded (`payment.created`), so a provider failure leaves nothing behind.
 * Everything that can refuse the request is checked before NOWPayments is asked; once it has
 * answered, its answer is kept with the opening until recorded, so no payment it opened is lost.
 */
export class CreatePayment {
  constructor(private readonly deps: CreatePaymentDeps) {}

  async execute(
    userId: string,
    request: CreatePaymentRequest,
    idempotencyKey?: string,
  ): Promise<CreatePaymentOutcome> {
    const { catalogue, idempotency } = this.deps;
    const plan = catalogue.find(request.plan);
    if (!plan) return { ok: false, error: 'unknown-plan', knownPlans: catalogue.ids };
    if (!this.deps.payCurrencies.includes(request.payCurrency))
      return { ok: false, error: 'unsupported-currency', supported: this.deps.payCurrencies };
    if (idempotencyKey === undefined) return this.open(userId, request, randomUUID());

    const requestHash = createHash('sha256').update(canonicalIpnJson(request)).digest('hex');
    const claim = await idempotency.claim(userId, idempotencyKey, requestHash);
    switch (claim.kind) {
      case 'replay':
        return { ok: true, response: claim.response as CreatePaymentResponse, replayed: true };
      case 'mismatch':
        return { ok: false, error: 'idempotency-key-reused' };
      case 'in-progress':
        return { ok: false, error: 'idempotency-key-in-progress' };
      case 'claimed':
        break;
    }
    // A claim taken over from a request that died may find its payment already recorded.
    const recorded = await this.recordedResponse(claim.paymentId);
    if (recorded) {
      await idempotency.complete(userId, idempotencyKey, recorded);
      return { ok: true, response: recorded, replayed: true };
    }
    let outcome: CreatePaymentOutcome;
    try {
      outcome = await this.open(userId, request, claim.paymentId);
    } catch (error) {
      await idempotency.release(userId, idempotencyKey).catch(() => undefined);
      throw error;
    }
    if (outcome.ok) await idempotency.complete(userId, idempotencyKey, outcome.response);
    else await idempotency.release(userId, idempotencyKey);
    return outcome;
  }

  private async open(
    userId: string,
    request: CreatePaymentRequest,
    paymentId: string,
  ): Promise<CreatePaymentOutcome> {
    const { openings } = this.deps;
    await openings.begin(paymentId);
    let recorded = true;
    try {
      return await this.openWithProvider(userId, request, paymentId, () => (recorded = false));
    } finally {
      // An answer not recorded stays with its opening, to be recorded by the next IPN or round.
      if (recorded) await openings.end(paymentId).catch(() => undefined);
    }
  }

  private async openWithProvider(
    userId: string,
    request: CreatePaymentRequest,
    paymentId: string,
    notRecorded: () => void,
  ): Promise<CreatePaymentOutcome> {
    const { commands, provider, catalogue, logger } = this.deps;
    const plan = catalogue.find(request.plan)!;
    let opened: NowPayment;
    try {
      opened = await provider.createPayment({
        orderId: paymentId,
        priceAmount: plan.priceAmount,
        priceCurrency: plan.priceCurrency,
        payCurrency: request.payCurrency,
        ipnCallbackUrl: this.deps.ipnCallbackUrl(),
        // The agent's name reads well on NOWPayments' side (and carries sandbox markers in tests).
        orderDescription: `${plan.name}: ${request.agent.name}`.slice(0, 200),
      });
    } catch (error) {
      if (!(error instanceof NowPaymentsError)) throw error;
      logger.warn('payment not opened: NOWPayments failed', {
        paymentId,
        kind: error.kind,
        status: error.httpStatus,
        code: error.code,
      });
      return { ok: false, error: 'provider-failed', detail: providerDetail(error) };
    }
    const command = {
      type: 'OpenPayment' as const,
      data: {
        paymentId,
        userId,
        plan: plan.id,
        priceAmount: plan.priceAmount,
        priceCurrency: plan.priceCurrency,
        payCurrency: opened.payCurrency.toLowerCase(),
        payAmount: opened.payAmount,
        payAddress: opened.payAddress,
        payinExtraId: opened.payinExtraId,
        providerPaymentId: opened.paymentId,
        expiresAt: isoOrNull(opened.validUntil ?? opened.expirationEstimateDate),
        agent: request.agent,
        autoDeploy: request.autoDeploy,
        maxAcuLimit: plan.maxAcuLimit,
      },
      now: nowIso(),
    };
    await this.keepAnswer(paymentId, opened, command, notRecorded);
    let result;
    try {
      result = await commands.execute(paymentId, command, { userId });
    } catch (error) {
      notRecorded();
      logger.warn('payment opened at NOWPayments but not recorded yet', {
        paymentId,
        providerPaymentId: opened.paymentId,
        error: (error as Error).message,
      });
      throw error;
    }
    if (!result.ok && result.error.code === 'payment-exists') {
      // Recorded from the kept answer meanwhile (an IPN or a reconciliation round got there first).
      const response = await this.recordedResponse(paymentId);
      if (response) return { ok: true, replayed: false, response };
    }
    if (!result.ok) {
      notRecorded();
      throw new Error(`payment ${paymentId} not opened: ${result.error.message}`);
    }
    await this.deps.waitForProjections(result.position);
    const created = result.events[0];
    if (created?.type !== 'payment.created') throw new Error('payment.created was not decided');
    logger.info('payment opened', {
      paymentId,
      plan: created.data.plan,
      payCurrency: created.data.payCurrency,
      providerPaymentId: created.data.providerPaymentId,
    });
    return { ok: true, replayed: false, response: responseOf(created) };
  }

  /** NOWPayments has opened its payment: from here on it must end up recorded. */
  private async keepAnswer(
    paymentId: string,
    opened: NowPayment,
    command: { data: OpenPaymentCommand['data']; now: string },
    notRecorded: () => void,
  ): Promise<void> {
    try {
      await this.deps.openings.answer(paymentId, { data: command.data, now: command.now });
    } catch (error) {
      // Nowhere to keep it: the log is what is left for an operator to find the payment by.
      notRecorded();
      this.deps.logger.error('payment opened at NOWPayments could not be kept', {
        paymentId,
        providerPaymentId: opened.paymentId,
        error: (error as Error).message,
      });
      throw error;
    }
  }

  /** The answer of a payment already recorded, or undefined when there is none. */
  private async recordedResponse(paymentId: string): Promise<CreatePaymentResponse | undefined> {
    const state = await this.deps.commands.current(paymentId);
    if (!state.exists) return undefined;
    const [first] = await this.deps.commands.store.readStream(paymentStreamId(paymentId), {
      maxCount: 1,
    });
    const created = first && (this.deps.commands.catalog.toDomain(first) as PaymentCreated);
    return created ? responseOf(created) : undefined;
  }
}

function responseOf(created: PaymentCreated): CreatePaymentResponse {
  const d = created.data;
  return {
    id: d.paymentId,
    status: 'waiting',
    plan: d.plan,
    priceAmount: d.priceAmount,
    priceCurrency: d.priceCurrency,
    payCurrency: d.payCurrency,
    payAmount: d.payAmount,
    payAddress: d.payAddress,
    payinExtraId: d.payinExtraId,
    providerPaymentId: d.providerPaymentId,
    expiresAt: d.expiresAt,
    createdAt: d.createdAt,
  };
}

function providerDetail(error: NowPaymentsError): string {
  switch (error.kind) {
    case 'timeout':
      return 'NOWPayments did not answer in time; nothing was charged, try again';
    case 'network':
      return 'NOWPayments could not be reached; nothing was charged, try again';
    case 'bad-response':
      return 'NOWPayments answered with something we could not read';
    case 'http':
      return `NOWPayments refused the payment (${error.httpStatus}${error.code ? ` ${error.code}` : ''}): ${error.detail}`;
  }
}

function isoOrNull(text: string | null): string | null {
  if (!text) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
