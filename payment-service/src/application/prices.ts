import { type PayCurrencyList, type PriceEstimate } from '@meetmatt/contracts';
import { type NowPaymentsClient, NowPaymentsError } from '../nowpayments';
import { type Catalogue } from './catalogue';
import { TtlCache } from './ttl-cache';

export type PriceProvider = Pick<NowPaymentsClient, 'currencies' | 'minAmount' | 'estimate'>;

export interface PricesDeps {
  provider: PriceProvider;
  catalogue: Catalogue;
  /** The coins we accept (PAYMENT_CURRENCIES), in the order we show them. */
  payCurrencies: readonly string[];
  currenciesTtlMs: number;
  estimateTtlMs: number;
  now?: () => Date;
}

/** NOWPayments did not answer usably (down, slow, failing or refusing); the client logged why. */
export interface ProviderUnavailable {
  ok: false;
  error: 'provider-unavailable';
  detail: string;
}

export type CurrenciesOutcome =
  { ok: true; value: PayCurrencyList; freshForSeconds: number } | ProviderUnavailable;

export type EstimateOutcome =
  | { ok: true; value: PriceEstimate; freshForSeconds: number }
  | { ok: false; error: 'unknown-plan'; knownPlans: string[] }
  | { ok: false; error: 'unsupported-currency'; supported: string[] }
  | ProviderUnavailable;

const ALL = 'all';

/**
 * The coins we accept with their minimum amounts, and what a plan costs in a coin, from
 * NOWPayments through caches: a pricing page read by every visitor costs the provider one round
 * of calls per TTL, not one per visitor. Input is checked against the catalogue and our coins
 * before any cache key is made, so the caches stay as small as plans × coins.
 */
export class Prices {
  private readonly currencyCache: TtlCache<PayCurrencyList>;
  private readonly estimateCache: TtlCache<PriceEstimate>;
  private readonly now: () => Date;

  constructor(private readonly deps: PricesDeps) {
    this.now = deps.now ?? (() => new Date());
    const clock = () => this.now().getTime();
    this.currencyCache = new TtlCache(deps.currenciesTtlMs, clock);
    this.estimateCache = new TtlCache(deps.estimateTtlMs, clock);
  }

  async currencies(): Promise<CurrenciesOutcome> {
    try {
      const value = await this.currencyCache.get(ALL, () => this.loadCurrencies());
      return { ok: true, value, freshForSeconds: this.currencyCache.freshForSeconds(ALL) };
    } catch (error) {
      return unavailable(error);
    }
  }

  async estimate(planId: string, payCurrency: string): Promise<EstimateOutcome> {
    const plan = this.deps.catalogue.find(planId);
    if (!plan) return { ok: false, error: 'unknown-plan', knownPlans: this.deps.catalogue.ids };
    if (!this.deps.payCurrencies.includes(payCurrency))
      return { ok: false, error: 'unsupported-currency', supported: [...this.deps.payCurrencies] };
    const key = `${plan.id}:${payCurrency}`;
    try {
      const value = await this.estimateCache.get(key, async () => {
        const fetchedAt = this.now().toISOString();
        const answer = await this.deps.provider.estimate({
          amount: plan.priceAmount,
          currencyFrom: plan.priceCurrency,
          currencyTo: payCurrency,
        });
        return {
          plan: plan.id,
          priceAmount: plan.priceAmount,
          priceCurrency: plan.priceCurrency,
          payCurrency,
          estimatedAmount: answer.estimatedAmount,
          fetchedAt,
        };
      });
      return { ok: true, value, freshForSeconds: this.estimateCache.freshForSeconds(key) };
    } catch (error) {
      return unavailable(error);
    }
  }

  private async loadCurrencies(): Promise<PayCurrencyList> {
    const fetchedAt = this.now().toISOString();
    const offered = new Set(await this.deps.provider.currencies());
    const coins = this.deps.payCurrencies.filter((code) => offered.has(code));
    const currencies = await Promise.all(
      coins.map(async (code) => {
        // Paid in the coin and received in it: no conversion on NOWPayments' side.
        const { minAmount } = await this.deps.provider.minAmount({
          currencyFrom: code,
          currencyTo: code,
        });
        return { code, minAmount };
      }),
    );
    return { currencies, fetchedAt };
  }
}

function unavailable(error: unknown): ProviderUnavailable {
  if (!(error instanceof NowPaymentsError)) throw error;
  return {
    ok: false,
    error: 'provider-unavailable',
    detail: error.message,
  };
}
