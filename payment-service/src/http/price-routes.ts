import { paymentEndpoints } from '@meetmatt/contracts';
import { HttpError, type Routes } from '@meetmatt/infra';
import { type Prices } from '../application/prices';

/** How long a client waits before asking again when NOWPayments did not answer. */
const RETRY_AFTER_SECONDS = 10;

/** GET /payments/currencies and GET /payments/estimate: public, from the caches in Prices. */
export function addPriceRoutes(routes: Routes, prices: Prices): void {
  routes.add(paymentEndpoints.listPayCurrencies, async () => {
    const outcome = await prices.currencies();
    if (!outcome.ok) throw providerProblem();
    return { status: 200, body: outcome.value, headers: cacheFor(outcome.freshForSeconds) };
  });

  routes.add(paymentEndpoints.estimatePrice, async ({ query }) => {
    const outcome = await prices.estimate(query.plan, query.payCurrency);
    if (outcome.ok)
      return { status: 200, body: outcome.value, headers: cacheFor(outcome.freshForSeconds) };
    switch (outcome.error) {
      case 'unknown-plan':
        throw HttpError.badRequest(`Unknown plan ${query.plan}`, [
          {
            field: 'plan',
            in: 'query',
            message: `no plan "${query.plan}"; on sale: ${outcome.knownPlans.join(', ')}`,
          },
        ]);
      case 'unsupported-currency':
        throw HttpError.badRequest(`Unsupported payCurrency ${query.payCurrency}`, [
          {
            field: 'payCurrency',
            in: 'query',
            message: `not a coin we accept; supported: ${outcome.supported.join(', ')}`,
          },
        ]);
      case 'provider-unavailable':
        throw providerProblem();
    }
  });
}

/** Shared caches may keep the answer as long as ours stays fresh. */
function cacheFor(seconds: number): Record<string, string> {
  return { 'Cache-Control': `public, max-age=${seconds}` };
}

/** NOWPayments down or failing (the client has logged why): 503 with Retry-After, never a 500. */
function providerProblem(): HttpError {
  return new HttpError(
    503,
    'provider-unavailable',
    'NOWPayments is not answering; retry after Retry-After seconds',
    { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
  );
}
