import { type Plan, paymentEndpoints } from '@meetmatt/contracts';
import {
  type DomainProblems,
  HttpError,
  type Principal,
  type Position,
  type Routes,
  pollUntil,
  problemForDomainError,
} from '@meetmatt/infra';
import { type CreatePayment } from '../application/create-payment';
import { type Catalogue } from '../application/catalogue';
import { type Refunds } from '../application/refunds';
import { PAYMENT_NOT_FOUND } from '../domain/payment-decide';
import {
  type PaymentQueries,
  type PaymentRow,
  decodeCursor,
  encodeCursor,
  toPaymentView,
} from '../projections/payment-queries';
import {
  type CreditNote,
  type Invoice,
  creditNotePdf,
  invoiceHtml,
  invoicePdf,
} from './invoice-documents';
import { type WebhookDeps, addNowPaymentsWebhook } from './webhook';

export interface PaymentRoutesDeps extends WebhookDeps {
  catalogue: Catalogue;
  createPayment: CreatePayment;
  queries: PaymentQueries;
  refunds: Refunds;
  seller: Invoice['seller'];
  waitForProjections: (position: Position | undefined) => Promise<unknown>;
  /**
   * Whether the payment's stream exists: a payment recorded but not yet in the read model (its
   * projection behind under load) is not a 404, since its creator was just told 201.
   */
  paymentRecorded?: (paymentId: string) => Promise<boolean>;
}

/** How long a read waits for a recorded payment to reach the read model before answering 503. */
const RECORDED_WAIT_MS = 2_000;

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The payment service's endpoints, thin: parse (done by the kit), call, map the outcome. */
export function paymentRoutes(deps: PaymentRoutesDeps): (routes: Routes) => void {
  const { queries } = deps;

  /** The payment if the caller may see it: its owner, or an operator. Anyone else: 404. */
  const visiblePayment = async (id: string, principal: Principal): Promise<PaymentRow> => {
    const row = (await queries.find(id)) ?? (await recordedRow(id));
    if (!row || (principal.role !== 'admin' && row.user_id !== principal.userId))
      throw HttpError.notFound(`No payment ${id}`);
    return row;
  };

  /** The row of a payment recorded but not projected yet, once it is; undefined if never recorded. */
  const recordedRow = async (id: string): Promise<PaymentRow | undefined> => {
    if (!deps.paymentRecorded || !(await deps.paymentRecorded(id))) return undefined;
    const polled = await pollUntil(async () => (await queries.find(id)) ?? false, {
      timeoutMs: RECORDED_WAIT_MS,
      intervalMs: 50,
    });
    if (polled.passed) return polled.value;
    throw new HttpError(503, 'payment-being-recorded', 'The payment is being recorded; retry', {
      headers: { 'Retry-After': '1' },
    });
  };

  return (routes) => {
    // First: the busiest route (NOWPayments' IPNs) is matched before the others are tried.
    addNowPaymentsWebhook(routes, deps);

    // Before /payments/:id, which would otherwise take "plans" for an id.
    routes.add(paymentEndpoints.listPlans, async () => ({
      status: 200,
      body: { plans: deps.catalogue.plans },
    }));

    routes.add(paymentEndpoints.createPayment, async ({ body, principal, req }) => {
      const key = req.get('idempotency-key');
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
        throw HttpError.badRequest('Invalid Idempotency-Key', [
          {
            field: 'Idempotency-Key',
            in: 'header',
            message: 'expected 1 to 255 visible ASCII characters',
          },
        ]);
      }
      const outcome = await deps.createPayment.execute(principal.userId, body, key);
      if (outcome.ok) {
        return {
          status: 201,
          body: outcome.response,
          headers: {
            Location: `/payments/${outcome.response.id}`,
            ...(outcome.replayed ? { 'Idempotent-Replayed': 'true' } : {}),
          },
        };
      }
      switch (outcome.error) {
        case 'unknown-plan':
          throw HttpError.badRequest(`Unknown plan ${body.plan}`, [
            {
              field: 'plan',
              in: 'body',
              message: `no plan "${body.plan}"; on sale: ${outcome.knownPlans.join(', ')}`,
            },
          ]);
        case 'unsupported-currency':
          throw HttpError.badRequest(`Unsupported payCurrency ${body.payCurrency}`, [
            {
              field: 'payCurrency',
              in: 'body',
              message: `not a coin we accept; supported: ${outcome.supported.join(', ')}`,
            },
          ]);
        case 'idempotency-key-reused':
          throw new HttpError(
            422,
            'idempotency-key-reused',
            'This Idempotency-Key was already used with a different request',
          );
        case 'idempotency-key-in-progress':
          throw HttpError.conflict(
            'A request with this Idempotency-Key is still being processed; retry later',
            'idempotency-key-in-progress',
          );
        case 'provider-failed':
          throw HttpError.badGateway(outcome.detail);
      }
    });

    routes.add(paymentEndpoints.listPayments, async ({ query, principal }) => {
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (query.cursor !== undefined && !after) {
        throw HttpError.badRequest('Invalid cursor', [
          { field: 'cursor', in: 'query', message: 'not a cursor this API gave out' },
        ]);
      }
      const page = await queries.list({
        userId: principal.role === 'admin' ? undefined : principal.userId,
        status: query.status,
        limit: query.limit,
        after,
      });
      return {
        status: 200,
        body: {
          items: page.rows.map(toPaymentView),
          nextCursor: page.next ? encodeCursor(page.next) : null,
        },
      };
    });

    routes.add(paymentEndpoints.getPaymentStatus, async ({ params, principal }) => {
      const row = await visiblePayment(params.id, principal);
      return {
        status: 200,
        body: {
          id: row.id,
          status: row.status,
          actuallyPaid: row.actually_paid,
          updatedAt: row.updated_at.toISOString(),
        },
      };
    });

    routes.add(paymentEndpoints.getPaymentInvoice, async ({ params, principal, req }) => {
      const row = await visiblePayment(params.id, principal);
      if (!row.invoice_number || !row.invoice_issued_at) {
        throw HttpError.conflict(
          row.confirmed_at
            ? 'The invoice is being issued; try again in a moment'
            : `No invoice: the payment is ${row.status.replace('_', ' ')}, not confirmed`,
          row.confirmed_at ? 'invoice-pending' : 'payment-not-confirmed',
        );
      }
      const invoice = invoiceOf(row, deps.catalogue.find(row.plan), deps.seller);
      const headers = { Vary: 'Accept' };
      switch (req.accepts(['application/json', 'text/html', 'application/pdf'])) {
        case 'application/json':
          return { status: 200, body: invoice, headers };
        case 'text/html':
          return {
            status: 200,
            body: invoiceHtml(invoice),
            contentType: 'text/html; charset=utf-8',
            headers,
          };
        case 'application/pdf':
          return {
            status: 200,
            body: await invoicePdf(invoice),
            contentType: 'application/pdf',
            headers: {
              ...headers,
              'Content-Disposition': `inline; filename="${invoice.number}.pdf"`,
            },
          };
        default:
          throw new HttpError(
            406,
            'not-acceptable',
            'The invoice is served as application/json, text/html or application/pdf',
          );
      }
    });

    routes.add(paymentEndpoints.getPaymentCreditNote, async ({ params, principal, req }) => {
      const row = await visiblePayment(params.id, principal);
      if (!row.credit_note_number || !row.credit_note_issued_at) {
        if (row.refund_status !== 'completed')
          throw HttpError.conflict(
            'No credit note: no refund of this payment was completed',
            'refund-not-completed',
          );
        if (!row.invoice_number)
          throw HttpError.conflict(
            'No credit note: the payment was never invoiced, so there is no invoice to credit',
            'payment-not-invoiced',
          );
        throw HttpError.conflict(
          'The credit note is being issued; try again in a moment',
          'credit-note-pending',
        );
      }
      const note = creditNoteOf(row, deps.catalogue.find(row.plan), deps.seller);
      const headers = { Vary: 'Accept' };
      switch (req.accepts(['application/json', 'application/pdf'])) {
        case 'application/json':
          return { status: 200, body: note, headers };
        case 'application/pdf':
          return {
            status: 200,
            body: await creditNotePdf(note),
            contentType: 'application/pdf',
            headers: { ...headers, 'Content-Disposition': `inline; filename="${note.number}.pdf"` },
          };
        default:
          throw new HttpError(
            406,
            'not-acceptable',
            'The credit note is served as application/json or application/pdf',
          );
      }
    });

    routes.add(paymentEndpoints.requestRefund, async ({ params, body, principal }) => {
      const { reason } = body;
      const result = await deps.refunds.request(params.id, reason, principal.userId);
      if (!result.ok) throw problemForDomainError(result.error, domainProblems);
      await deps.waitForProjections(result.position);
      return { status: 202, body: toPaymentView(await visiblePayment(params.id, principal)) };
    });

    routes.add(paymentEndpoints.completeRefund, async ({ params, body, principal }) => {
      const { reference } = body;
      const result = await deps.refunds.complete(params.id, reference, principal.userId);
      if (!result.ok) throw problemForDomainError(result.error, domainProblems);
      await deps.waitForProjections(result.position);
      return { status: 200, body: toPaymentView(await visiblePayment(params.id, principal)) };
    });

    routes.add(paymentEndpoints.getPayment, async ({ params, principal }) => {
      const row = await visiblePayment(params.id, principal);
      return {
        status: 200,
        body: { ...toPaymentView(row), history: await queries.history(row.id) },
      };
    });
  };
}

/** The payment service's answers to its domain errors; any other code is a 409. */
const domainProblems: DomainProblems = { [PAYMENT_NOT_FOUND]: { status: 404, code: 'not-found' } };

function describe(row: PaymentRow, plan: Plan | undefined): string {
  return `${plan?.name ?? row.plan}: the agent “${row.agent.name}”, built and deployed by Devin`;
}

/** The invoice of an invoiced payment, as issued (the routes and the receipt mail print it). */
export function invoiceOf(
  row: PaymentRow,
  plan: Plan | undefined,
  seller: Invoice['seller'],
): Invoice {
  return {
    number: row.invoice_number!,
    paymentId: row.id,
    userId: row.user_id,
    plan: row.plan,
    description: describe(row, plan),
    amount: row.price_amount,
    currency: row.price_currency,
    paidWith: { currency: row.pay_currency, amount: row.actually_paid },
    issuedAt: row.invoice_issued_at!.toISOString(),
    seller,
    // As the invoice printed them when it was issued, not as the buyer's profile says now.
    buyer: row.invoice_buyer,
  };
}

/** The credit note of a completed refund: what the invoice charged, given back. */
function creditNoteOf(
  row: PaymentRow,
  plan: Plan | undefined,
  seller: Invoice['seller'],
): CreditNote {
  return {
    number: row.credit_note_number!,
    invoiceNumber: row.invoice_number ?? '',
    paymentId: row.id,
    userId: row.user_id,
    plan: row.plan,
    description: `Refund of ${describe(row, plan)}`,
    amount: row.price_amount === 0 ? 0 : -row.price_amount,
    currency: row.price_currency,
    reason: row.refund_reason ?? '',
    refundReference: row.refund_reference ?? '',
    issuedAt: row.credit_note_issued_at!.toISOString(),
    seller,
    buyer: row.invoice_buyer,
  };
}
