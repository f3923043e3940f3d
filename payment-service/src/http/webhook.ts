import { paymentEndpoints } from '@meetmatt/contracts';
import { HttpError, type Logger, type Metrics, type Routes } from '@meetmatt/infra';
import { type Request, type Response } from 'express';
import { type ProviderReports, reportFromIpn } from '../application/provider-reports';
import { canonicalIpnJson, ipnKey, verifyCanonicalIpn } from '../nowpayments';

export interface WebhookDeps {
  reports: ProviderReports;
  ipnSecret: string;
  logger: Logger;
  metrics: Metrics;
}

const SIGNATURE_HEADER = 'x-nowpayments-sig';

/**
 * POST /webhooks/nowpayments. The signature is proven before anything else looks at the body:
 * a request without a valid `x-nowpayments-sig` gets 401 and leaves nothing behind, whatever it
 * carries. Then the IPN is validated, recorded and answered without waiting for the read models
 * (NOWPayments resends anything slower than 3 seconds).
 */
export function addNowPaymentsWebhook(routes: Routes, deps: WebhookDeps): void {
  const endpoint = paymentEndpoints.nowpaymentsWebhook;
  const ipns = deps.metrics.counter('payment_ipn_total', 'NOWPayments IPNs received, by outcome', [
    'outcome',
  ]);
  const key = ipnKey(deps.ipnSecret);
  const verify = (req: Request, res: Response) => {
    let canonical: string | undefined;
    try {
      canonical = canonicalIpnJson(req.body);
    } catch {
      canonical = undefined; // no JSON body at all: nothing can be signed
    }
    if (canonical === undefined || !verifyCanonicalIpn(canonical, req.get(SIGNATURE_HEADER), key)) {
      ipns.inc({ outcome: 'bad-signature' });
      deps.logger.warn('nowpayments ipn refused: bad signature', {
        signed: req.get(SIGNATURE_HEADER) !== undefined,
      });
      throw new HttpError(401, 'invalid-signature', `Missing or invalid ${SIGNATURE_HEADER}`);
    }
    res.locals.signedIpn = canonical;
  };
  routes.add(
    endpoint,
    async ({ body: ipn, res }) => {
      const signed = res.locals.signedIpn as string;
      const outcome = await deps.reports.record(ipn.order_id, reportFromIpn(ipn, signed));
      ipns.inc({
        outcome: outcome.kind === 'recorded' && outcome.changed ? 'moved' : outcome.kind,
      });
      if (outcome.kind === 'not-yet-recorded') {
        // Rare: the IPN overtook NOWPayments' own answer to us. A non-2xx makes it send it again.
        throw new HttpError(503, 'payment-being-opened', 'The payment is being opened; resend', {
          headers: { 'Retry-After': '1' },
        });
      }
      return { status: 200, body: { ok: true } };
    },
    { verify },
  );
}
