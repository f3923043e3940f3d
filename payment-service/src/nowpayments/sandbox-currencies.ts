import { createHash } from 'node:crypto';

/**
 * The sandbox's market: a fixed rate table (USD per unit), the network each coin travels on,
 * what its deposit addresses look like and whether it needs a memo. Plausible, not real.
 */

type AddressStyle =
  'bech32-btc' | 'bech32-ltc' | 'evm' | 'tron' | 'ripple' | 'stellar' | 'doge' | 'solana';

interface Coin {
  usd: number;
  network: string;
  address: AddressStyle;
  /** Memo coins: a deposit needs `payin_extra_id` (destination tag, memo) as well. */
  memo: boolean;
  decimals: number;
}

const COINS: Record<string, Coin> = {
  btc: { usd: 60_000, network: 'btc', address: 'bech32-btc', memo: false, decimals: 8 },
  eth: { usd: 3_000, network: 'eth', address: 'evm', memo: false, decimals: 8 },
  ltc: { usd: 80, network: 'ltc', address: 'bech32-ltc', memo: false, decimals: 8 },
  usdttrc20: { usd: 1, network: 'trx', address: 'tron', memo: false, decimals: 6 },
  usdterc20: { usd: 1, network: 'eth', address: 'evm', memo: false, decimals: 6 },
  usdc: { usd: 1, network: 'eth', address: 'evm', memo: false, decimals: 6 },
  trx: { usd: 0.125, network: 'trx', address: 'tron', memo: false, decimals: 6 },
  bnbbsc: { usd: 550, network: 'bsc', address: 'evm', memo: false, decimals: 8 },
  sol: { usd: 150, network: 'sol', address: 'solana', memo: false, decimals: 8 },
  doge: { usd: 0.15, network: 'doge', address: 'doge', memo: false, decimals: 8 },
  xrp: { usd: 0.5, network: 'xrp', address: 'ripple', memo: true, decimals: 6 },
  xlm: { usd: 0.1, network: 'xlm', address: 'stellar', memo: true, decimals: 7 },
};

/** USD per unit of each fiat currency a price may be given in. */
const FIATS: Record<string, number> = { usd: 1, eur: 1.08, gbp: 1.27 };

/** The smallest payment accepted, in USD: below it NOWPayments answers AMOUNT_MINIMAL_ERROR. */
export const MIN_PAYMENT_USD = 1;

export function cryptoCurrencies(): string[] {
  return Object.keys(COINS);
}

export function isCrypto(code: string): boolean {
  return Object.hasOwn(COINS, code);
}

export function isKnownCurrency(code: string): boolean {
  return isCrypto(code) || Object.hasOwn(FIATS, code);
}

function usdPerUnit(code: string): number {
  const rate = COINS[code]?.usd ?? FIATS[code];
  if (rate === undefined) throw new RangeError(`unknown currency ${code}`);
  return rate;
}

export function toUsd(amount: number, currency: string): number {
  return amount * usdPerUnit(currency);
}

/** `amount` of `from` in units of `to`, rounded as `to` is (2 decimals for fiat). */
export function convert(amount: number, from: string, to: string): number {
  return roundFor(to, (amount * usdPerUnit(from)) / usdPerUnit(to));
}

export function roundFor(currency: string, amount: number): number {
  const decimals = COINS[currency]?.decimals ?? 2;
  const factor = 10 ** decimals;
  return Math.round(amount * factor) / factor;
}

export function networkOf(currency: string): string {
  return COINS[currency]?.network ?? currency;
}

export function needsMemo(currency: string): boolean {
  return COINS[currency]?.memo ?? false;
}

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX = '0123456789abcdef';

/** A deposit address shaped like the coin's real ones, derived from the payment id. */
export function payAddressFor(currency: string, seed: string): string {
  const style = COINS[currency]?.address ?? 'evm';
  const chars = (alphabet: string, length: number) => pick(alphabet, length, `${currency}:${seed}`);
  switch (style) {
    case 'bech32-btc':
      return `bc1q${chars(BECH32, 38)}`;
    case 'bech32-ltc':
      return `ltc1q${chars(BECH32, 38)}`;
    case 'evm':
      return `0x${chars(HEX, 40)}`;
    case 'tron':
      return `T${chars(BASE58, 33)}`;
    case 'ripple':
      return `r${chars(BASE58, 33)}`;
    case 'stellar':
      return `G${chars(BASE32, 55)}`;
    case 'doge':
      return `D${chars(BASE58, 33)}`;
    case 'solana':
      return chars(BASE58, 44);
  }
}

/** The memo / destination tag a memo coin's deposit must carry; null for the others. */
export function payinExtraIdFor(currency: string, seed: string): string | null {
  if (!needsMemo(currency)) return null;
  return String(1_000_000_000 + (digest(`memo:${seed}`).readUInt32BE(0) % 3_000_000_000));
}

function pick(alphabet: string, length: number, seed: string): string {
  let out = '';
  for (let round = 0; out.length < length; round += 1) {
    for (const byte of digest(`${seed}:${round}`)) {
      out += alphabet[byte % alphabet.length] ?? '';
      if (out.length === length) break;
    }
  }
  return out;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
