import { NowPaymentsIpnSchema, paymentEndpoints } from '@meetmatt/contracts';
import { HttpError, type Logger, type Metrics, type Routes, parseOrThrow } from '@meetmatt/infra';
import express, { type RequestHandler } from 'express';
import { type ProviderReports, reportFromIpn } from '../application/provider-reports';
import { canonicalIpnJson, verifyCanonicalIpn } from '../nowpayments';

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
 *
 * The http kit's `Routes.add` declares a `verify` option but does not run it yet, so the body
 * parser and the check are mounted here, ahead of the endpoint (same path, same router).
 */
export function addNowPaymentsWebhook(routes: Routes, deps: WebhookDeps): void {
  const endpoint = paymentEndpoints.nowpaymentsWebhook;
  const ipns = deps.metrics.counter('payment_ipn_total', 'NOWPayments IPNs received, by outcome', [
    'outcome',
  ]);
  const readJson = express.json({
    limit: endpoint.bodyLimit,
    type: ['application/json', 'application/*+json'],
  });
  const verify: RequestHandler = (req, res, next) => {
    let canonical: string | undefined;
    try {
      canonical = canonicalIpnJson(req.body);
    } catch {
      canonical = undefined; // no JSON body at all: nothing can be signed
    }
    if (
      canonical === undefined ||
      !verifyCanonicalIpn(canonical, req.get(SIGNATURE_HEADER), deps.ipnSecret)
    ) {
      ipns.inc({ outcome: 'bad-signature' });
      deps.logger.warn('nowpayments ipn refused: bad signature', {
        signed: req.get(SIGNATURE_HEADER) !== undefined,
      });
      throw new HttpError(401, 'invalid-signature', `Missing or invalid ${SIGNATURE_HEADER}`);
    }
    res.locals.signedIpn = canonical;
    next();
  };
  routes.router.post(endpoint.path, readJson, verify);
  // The body is already read and verified: the endpoint is mounted without its body schema, and
  // the IPN is parsed below with it.
  routes.add({ ...endpoint, body: undefined }, async ({ req, res }) => {
    const ipn = parseOrThrow(NowPaymentsIpnSchema, req.body, 'body');
    const signed = res.locals.signedIpn as string;
    const outcome = await deps.reports.record(ipn.order_id, reportFromIpn(ipn, signed));
    ipns.inc({ outcome: outcome.kind === 'recorded' && outcome.changed ? 'moved' : outcome.kind });
    if (outcome.kind === 'not-yet-recorded') {
      // Rare: the IPN overtook NOWPayments' own answer to us. A non-2xx makes it send it again.
      throw new HttpError(503, 'payment-being-opened', 'The payment is being opened; resend', {
        headers: { 'Retry-After': '1' },
      });
    }
    return { status: 200, body: { ok: true } };
  });
}
