import { type PaymentStatus } from '@meetmatt/contracts';

/**
 * What the sandbox does with a payment after `POST /v1/payment`: the one place where scenarios
 * and their markers are defined.
 *
 * A scenario is an OUTCOME (the statuses the payment goes through, one per step of `stepMs`)
 * plus DELIVERY QUIRKS (what happens to the IPN of each status change). It is chosen per payment:
 *
 * - by the real sandbox's `case` field: `success` → paid, `partially_paid`, `failed`;
 * - by markers anywhere in `order_description`, which win over `case` and combine, one outcome
 *   and any quirks: `"Starter plan [sandbox:partially-paid] [sandbox:duplicate]"`.
 *
 * Outcome markers (default `paid`):
 *   [sandbox:paid]            waiting → confirming → confirmed → sending → finished
 *   [sandbox:partially-paid]  waiting → confirming → partially_paid (half the amount arrives)
 *   [sandbox:failed]          waiting → confirming → failed
 *   [sandbox:expired]         waiting → expired (nothing was deposited)
 *   [sandbox:manual]          stays `waiting` until `POST /sandbox/payments/:id/status`
 *   [sandbox:underpaid]       waiting → confirming → finished, with 1% of the amount arrived: a
 *                             signed `finished` that is not the money asked for
 *   [sandbox:split]           waiting → confirming → partially_paid (60% arrives), then the rest
 *                             arrives as a repeat deposit: a payment of its own whose
 *                             `parent_payment_id` is the first, confirming → … → finished
 * Delivery markers:
 *   [sandbox:duplicate]       every IPN is delivered twice, back to back
 *   [sandbox:reverse]         IPNs are held until the payment reaches a final status, then
 *                             delivered newest first (out of order)
 *   [sandbox:lost-ipn]        the IPN of the final status is never delivered: the status is
 *                             there for `GET /v1/payment/:id` (the reconciler) and nowhere else
 *
 * An unknown marker or `case` is refused with 400, so a typo in a test fails loudly.
 */

export type ScenarioOutcome =
  'paid' | 'partially_paid' | 'failed' | 'expired' | 'underpaid' | 'split' | 'manual';

export interface Scenario {
  outcome: ScenarioOutcome;
  /** How many times each IPN is delivered. */
  copies: number;
  /** Hold IPNs until a final status, then deliver them newest first. */
  reverse: boolean;
  /** Never deliver the final status's IPN. */
  loseFinalIpn: boolean;
}

export interface ScenarioStep {
  status: PaymentStatus;
  /** The share of `pay_amount` deposited once this status is reached. */
  paidShare: number;
}

/** The share of the amount the first deposit of a split payment brings. */
export const SPLIT_FIRST_SHARE = 0.6;

export const SCENARIO_STEPS: Record<Exclude<ScenarioOutcome, 'manual'>, readonly ScenarioStep[]> = {
  paid: [
    { status: 'confirming', paidShare: 1 },
    { status: 'confirmed', paidShare: 1 },
    { status: 'sending', paidShare: 1 },
    { status: 'finished', paidShare: 1 },
  ],
  partially_paid: [
    { status: 'confirming', paidShare: 0.5 },
    { status: 'partially_paid', paidShare: 0.5 },
  ],
  failed: [
    { status: 'confirming', paidShare: 1 },
    { status: 'failed', paidShare: 1 },
  ],
  expired: [{ status: 'expired', paidShare: 0 }],
  underpaid: [
    { status: 'confirming', paidShare: 0.01 },
    { status: 'finished', paidShare: 0.01 },
  ],
  // The rest arrives afterwards as a repeat deposit (ScenarioPlayer).
  split: [
    { status: 'confirming', paidShare: SPLIT_FIRST_SHARE },
    { status: 'partially_paid', paidShare: SPLIT_FIRST_SHARE },
  ],
};

/** Statuses after which NOWPayments sends nothing more for the payment (EXTERNAL-APIS.md). */
export const FINAL_STATUSES: ReadonlySet<PaymentStatus> = new Set<PaymentStatus>([
  'finished',
  'partially_paid',
  'failed',
  'refunded',
  'expired',
  'cancelled',
]);

const OUTCOME_MARKERS: Record<string, ScenarioOutcome> = {
  paid: 'paid',
  success: 'paid',
  'partially-paid': 'partially_paid',
  partially_paid: 'partially_paid',
  failed: 'failed',
  expired: 'expired',
  underpaid: 'underpaid',
  split: 'split',
  'split-deposit': 'split',
  manual: 'manual',
};

const QUIRK_MARKERS = ['duplicate', 'reverse', 'lost-ipn'] as const;
type QuirkMarker = (typeof QUIRK_MARKERS)[number];

const CASES: Record<string, ScenarioOutcome> = {
  success: 'paid',
  failed: 'failed',
  partially_paid: 'partially_paid',
};

export const SANDBOX_CASES = Object.keys(CASES);
export const SANDBOX_MARKERS = [...Object.keys(OUTCOME_MARKERS), ...QUIRK_MARKERS].map(
  (name) => `[sandbox:${name}]`,
);

export type ScenarioChoice = { ok: true; scenario: Scenario } | { ok: false; message: string };

export function chooseScenario(input: {
  case?: string | undefined;
  orderDescription?: string | undefined | null;
}): ScenarioChoice {
  const names = [...(input.orderDescription ?? '').matchAll(/\[sandbox:([^\]]*)\]/gi)].map(
    (match) => (match[1] ?? '').trim().toLowerCase(),
  );
  const unknown = names.find((name) => !isOutcome(name) && !isQuirk(name));
  if (unknown !== undefined) {
    return {
      ok: false,
      message: `unknown sandbox marker [sandbox:${unknown}]; known: ${SANDBOX_MARKERS.join(' ')}`,
    };
  }
  const outcomes = [...new Set(names.flatMap((name) => OUTCOME_MARKERS[name] ?? []))];
  if (outcomes.length > 1) {
    return { ok: false, message: `conflicting sandbox outcomes: ${outcomes.join(', ')}` };
  }
  const fromCase = input.case === undefined ? 'paid' : CASES[input.case];
  if (fromCase === undefined) {
    return { ok: false, message: `"case" must be one of ${SANDBOX_CASES.join(', ')}` };
  }
  const quirks = new Set(names.filter(isQuirk));
  return {
    ok: true,
    scenario: {
      outcome: outcomes[0] ?? fromCase,
      copies: quirks.has('duplicate') ? 2 : 1,
      reverse: quirks.has('reverse'),
      loseFinalIpn: quirks.has('lost-ipn'),
    },
  };
}

function isOutcome(name: string): boolean {
  return Object.hasOwn(OUTCOME_MARKERS, name);
}

function isQuirk(name: string): name is QuirkMarker {
  return (QUIRK_MARKERS as readonly string[]).includes(name);
}
