import { eventually } from '@meetmatt/infra/testing';
import { NowPaymentsIpnSchema } from '@meetmatt/contracts';
import { sortKeysDeep, verifyIpnSignature } from '../../src/nowpayments/signature';
import {
  IPN_SECRET,
  type Receiver,
  type SandboxHarness,
  paymentInput,
  startReceiver,
  startSandbox,
} from '../support/nowpayments-sandbox';

const PAID = ['confirming', 'confirmed', 'sending', 'finished'];

describe('NOWPayments sandbox scenarios, as our webhook sees them', () => {
  let harness: SandboxHarness;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    harness = await startSandbox({ stepMs: 5 });
  });
  afterAll(async () => {
    await harness.stop();
    await receiver.close();
  });

  async function create(overrides: Parameters<typeof paymentInput>[1] = {}) {
    const input = paymentInput(receiver.url, overrides);
    const payment = await harness.client.createPayment(input);
    return { orderId: input.orderId, paymentId: payment.paymentId };
  }

  const settled = (orderId: string) =>
    harness.sandbox
      .deliveries({ orderId })
      .every((d) => d.state === 'delivered' || d.state === 'dropped' || d.state === 'failed');

  it('when a payment is paid, then each status arrives once, in order, signed and parseable', async () => {
    const { orderId, paymentId } = await create();
    await eventually('four IPNs', () => receiver.statuses(orderId).length === 4);

    expect(receiver.statuses(orderId)).toEqual(PAID);
    for (const ipn of receiver.forOrder(orderId)) {
      expect(verifyIpnSignature(ipn.body, ipn.headers['x-nowpayments-sig'], IPN_SECRET)).toBe(true);
      expect(ipn.headers['content-type']).toBe('application/json');
      expect(ipn.body.payment_id).toBe(Number(paymentId));
      expect(NowPaymentsIpnSchema.parse(ipn.body).payment_id).toBe(paymentId);
      // Sent as NOWPayments sends it, not pre-sorted: a receiver must sort to verify.
      expect(ipn.raw).not.toBe(JSON.stringify(sortKeysDeep(ipn.body)));
    }
    const finished = receiver.forOrder(orderId)[3]!.body;
    expect(finished).toMatchObject({
      order_id: orderId,
      order_description: 'Starter plan',
      price_amount: 49,
      price_currency: 'usd',
      pay_currency: 'btc',
      invoice_id: null,
      parent_payment_id: null,
      outcome_currency: 'btc',
      fee: { currency: 'btc', depositFee: 0, withdrawalFee: 0 },
    });
    expect(finished.actually_paid).toBe(finished.pay_amount);
    expect(finished.actually_paid_at_fiat).toBe(49);
    expect((finished.fee as { serviceFee: number }).serviceFee).toBeGreaterThan(0);
    const details = await harness.client.getPayment(paymentId);
    expect(details).toMatchObject({ status: 'finished', actuallyPaid: finished.actually_paid });
  });

  it('when the sandbox case is partially_paid, then half the amount arrives and the payment ends there', async () => {
    const { orderId } = await create({ case: 'partially_paid' });
    await eventually('the final IPN', () => receiver.statuses(orderId).includes('partially_paid'));
    expect(receiver.statuses(orderId)).toEqual(['confirming', 'partially_paid']);
    const last = receiver.forOrder(orderId)[1]!.body;
    expect(last.actually_paid).toBeCloseTo((last.pay_amount as number) / 2, 8);
    expect(last.actually_paid_at_fiat).toBe(24.5);
  });

  it('when a payment plays [sandbox:split], then 60% arrives and it ends partially paid, then the rest arrives as a repeat deposit with parent_payment_id that finishes', async () => {
    const { orderId, paymentId } = await create({ orderDescription: 'Starter [sandbox:split]' });
    await eventually('the repeat deposit finished', () =>
      receiver
        .forOrder(orderId)
        .some((i) => i.body.parent_payment_id !== null && i.body.payment_status === 'finished'),
    );
    const first = receiver.forOrder(orderId).filter((i) => i.body.parent_payment_id === null);
    const repeat = receiver.forOrder(orderId).filter((i) => i.body.parent_payment_id !== null);
    expect(first.map((i) => i.body.payment_status)).toEqual(['confirming', 'partially_paid']);
    expect(repeat.map((i) => i.body.payment_status)).toEqual(PAID);
    const partial = first[1]!.body;
    const finished = repeat[3]!.body;
    expect(partial.actually_paid).toBeCloseTo((partial.pay_amount as number) * 0.6, 8);
    expect(finished).toMatchObject({
      parent_payment_id: Number(paymentId),
      order_id: orderId,
      pay_address: partial.pay_address,
      pay_currency: 'btc',
    });
    expect(finished.payment_id).not.toBe(Number(paymentId));
    expect((partial.actually_paid as number) + (finished.actually_paid as number)).toBeCloseTo(
      partial.pay_amount as number,
      8,
    );
    for (const ipn of repeat)
      expect(verifyIpnSignature(ipn.body, ipn.headers['x-nowpayments-sig'], IPN_SECRET)).toBe(true);
    const details = await harness.client.getPayment(String(finished.payment_id));
    expect(details).toMatchObject({ status: 'finished', parentPaymentId: paymentId });
  });

  it('when a payment plays [sandbox:underpaid], then it finishes with 1% of the amount arrived', async () => {
    const { orderId } = await create({ orderDescription: 'Starter [sandbox:underpaid]' });
    await eventually('the final IPN', () => receiver.statuses(orderId).includes('finished'));
    expect(receiver.statuses(orderId)).toEqual(['confirming', 'finished']);
    const last = receiver.forOrder(orderId)[1]!.body;
    expect(last.actually_paid).toBeCloseTo((last.pay_amount as number) * 0.01, 8);
  });

  it('when a repeat deposit is asked of the control API, then a payment of its own with parent_payment_id plays to finished', async () => {
    const { orderId, paymentId } = await create({ orderDescription: 'Starter [sandbox:manual]' });
    const res = await fetch(`${harness.url}/sandbox/payments/${paymentId}/deposits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ actuallyPaid: 0.0001 }),
    });
    expect(res.status).toBe(201);
    const repeat = (await res.json()) as { payment_id: number; parent_payment_id: number };
    expect(repeat.parent_payment_id).toBe(Number(paymentId));
    await eventually('the repeat deposit finished', () =>
      receiver.statuses(orderId).includes('finished'),
    );
    const finished = receiver.forOrder(orderId).at(-1)!.body;
    expect(finished).toMatchObject({
      payment_id: repeat.payment_id,
      parent_payment_id: Number(paymentId),
      actually_paid: 0.0001,
    });
    const refused = await fetch(`${harness.url}/sandbox/payments/${paymentId}/deposits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ actuallyPaid: -1 }),
    });
    expect(refused.status).toBe(400);
  });

  it('when the sandbox case is failed, then the payment is confirmed on chain and then fails', async () => {
    const { orderId } = await create({ case: 'failed' });
    await eventually('the failed IPN', () => receiver.statuses(orderId).includes('failed'));
    expect(receiver.statuses(orderId)).toEqual(['confirming', 'failed']);
  });

  it('when the description says [sandbox:expired], then nothing is paid and the payment expires', async () => {
    const { orderId, paymentId } = await create({ orderDescription: 'Pro [sandbox:expired]' });
    await eventually('the expired IPN', () => receiver.statuses(orderId).includes('expired'));
    expect(receiver.statuses(orderId)).toEqual(['expired']);
    expect(receiver.forOrder(orderId)[0]!.body.actually_paid).toBe(0);
    expect((await harness.client.getPayment(paymentId)).status).toBe('expired');
  });

  it('when a marker and a case disagree, then the marker wins', async () => {
    const { orderId } = await create({ case: 'success', orderDescription: '[sandbox:failed]' });
    await eventually('the failed IPN', () => receiver.statuses(orderId).includes('failed'));
    expect(receiver.statuses(orderId)).toEqual(['confirming', 'failed']);
  });

  it('when the description says [sandbox:duplicate], then every IPN arrives twice with the same body and signature', async () => {
    const { orderId } = await create({ orderDescription: 'Starter [sandbox:duplicate]' });
    await eventually('eight IPNs', () => receiver.statuses(orderId).length === 8);
    expect(receiver.statuses(orderId)).toEqual(PAID.flatMap((s) => [s, s]));
    const ipns = receiver.forOrder(orderId);
    for (let i = 0; i < ipns.length; i += 2) {
      expect(ipns[i + 1]!.raw).toBe(ipns[i]!.raw);
      expect(ipns[i + 1]!.headers['x-nowpayments-sig']).toBe(ipns[i]!.headers['x-nowpayments-sig']);
    }
    const reasons = harness.sandbox.deliveries({ orderId }).map((d) => d.reason);
    expect(reasons).toEqual(PAID.flatMap(() => ['status-change', 'duplicate']));
  });

  it('when the description says [sandbox:reverse], then the statuses arrive newest first, each still verifiable', async () => {
    const { orderId } = await create({ orderDescription: '[sandbox:reverse]' });
    await eventually('four IPNs', () => receiver.statuses(orderId).length === 4);
    expect(receiver.statuses(orderId)).toEqual([...PAID].reverse());
    for (const ipn of receiver.forOrder(orderId)) {
      expect(verifyIpnSignature(ipn.body, ipn.headers['x-nowpayments-sig'], IPN_SECRET)).toBe(true);
    }
  });

  it('when the description says [sandbox:lost-ipn], then the final status is only visible through GET', async () => {
    const { orderId, paymentId } = await create({ orderDescription: '[sandbox:lost-ipn]' });
    await eventually(
      'the payment to finish',
      () => harness.sandbox.payment(paymentId)?.payment_status === 'finished',
    );
    await eventually(
      'the deliveries to settle',
      () => settled(orderId) && receiver.statuses(orderId).length === 3,
    );

    expect(receiver.statuses(orderId)).toEqual(['confirming', 'confirmed', 'sending']);
    const lost = harness.sandbox.deliveries({ orderId }).at(-1);
    expect(lost).toMatchObject({
      status: 'finished',
      state: 'dropped',
      dropReason: 'lost-ipn',
      attempts: [],
    });
    const details = await harness.client.getPayment(paymentId);
    expect(details.status).toBe('finished');
    expect(details.outcomeAmount).toBeGreaterThan(0);
  });

  it('when duplicate and reverse are combined, then the duplicated statuses arrive newest first', async () => {
    const { orderId } = await create({
      orderDescription: '[sandbox:partially-paid] [sandbox:duplicate] [sandbox:reverse]',
    });
    await eventually('four IPNs', () => receiver.statuses(orderId).length === 4);
    expect(receiver.statuses(orderId)).toEqual([
      'partially_paid',
      'partially_paid',
      'confirming',
      'confirming',
    ]);
  });

  it('when reverse and lost-ipn are combined, then the earlier statuses arrive newest first and the final one never', async () => {
    const { orderId } = await create({ orderDescription: '[sandbox:reverse][sandbox:lost-ipn]' });
    await eventually(
      'three IPNs',
      () => receiver.statuses(orderId).length === 3 && settled(orderId),
    );
    expect(receiver.statuses(orderId)).toEqual(['sending', 'confirmed', 'confirming']);
  });

  it('when the description says [sandbox:manual], then the payment waits until the control API moves it', async () => {
    const { orderId, paymentId } = await create({ orderDescription: '[sandbox:manual]' });
    const other = await create();
    await eventually(
      'another payment to finish',
      () => receiver.statuses(other.orderId).length === 4,
    );
    expect(receiver.statuses(orderId)).toEqual([]);
    expect(harness.sandbox.payment(paymentId)?.payment_status).toBe('waiting');

    const answer = await fetch(`${harness.url}/sandbox/payments/${paymentId}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'confirming' }),
    });
    expect(answer.status).toBe(200);
    await eventually('the confirming IPN', () => receiver.statuses(orderId).length === 1);
    harness.sandbox.setStatus(paymentId, 'partially_paid', 0.0001);
    await eventually('the partially_paid IPN', () => receiver.statuses(orderId).length === 2);

    expect(receiver.statuses(orderId)).toEqual(['confirming', 'partially_paid']);
    expect(receiver.forOrder(orderId)[1]!.body.actually_paid).toBe(0.0001);
  });

  it('when the control API moves a playing payment, then the rest of its scenario is dropped', async () => {
    const harnessSlow = await startSandbox({ stepMs: 60_000 });
    try {
      const input = paymentInput(receiver.url);
      const { paymentId } = await harnessSlow.client.createPayment(input);
      harnessSlow.sandbox.setStatus(paymentId, 'expired');
      await eventually('the expired IPN', () => receiver.statuses(input.orderId).length === 1);
      expect(receiver.statuses(input.orderId)).toEqual(['expired']);
      expect((await harnessSlow.client.getPayment(paymentId)).status).toBe('expired');
    } finally {
      await harnessSlow.stop();
    }
  });

  it('when an operator resends an IPN, then the same signed body arrives again as often as asked', async () => {
    const { orderId } = await create({ orderDescription: '[sandbox:expired]' });
    await eventually('the expired IPN', () => receiver.statuses(orderId).length === 1);
    const [first] = harness.sandbox.deliveries({ orderId });

    const answer = await fetch(`${harness.url}/sandbox/ipns/${first!.id}/resend`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ times: 3 }),
    });
    expect(answer.status).toBe(202);
    await eventually('three more IPNs', () => receiver.statuses(orderId).length === 4);
    const raws = new Set(receiver.forOrder(orderId).map((r) => r.raw));
    const signatures = new Set(
      receiver.forOrder(orderId).map((r) => r.headers['x-nowpayments-sig']),
    );
    expect([raws.size, signatures.size]).toEqual([1, 1]);
    expect(harness.sandbox.deliveries({ orderId }).map((d) => d.reason)).toEqual([
      'status-change',
      'resend',
      'resend',
      'resend',
    ]);
  });

  it('when a marker is unknown or outcomes conflict, then the payment is refused with 400', async () => {
    await expect(
      harness.client.createPayment(
        paymentInput(receiver.url, { orderDescription: '[sandbox:paid-twice]' }),
      ),
    ).rejects.toMatchObject({
      httpStatus: 400,
      code: 'INVALID_REQUEST_PARAMS',
      detail: expect.stringContaining('unknown sandbox marker [sandbox:paid-twice]'),
    });
    await expect(
      harness.client.createPayment(
        paymentInput(receiver.url, { orderDescription: '[sandbox:failed][sandbox:expired]' }),
      ),
    ).rejects.toMatchObject({ httpStatus: 400 });
  });
});

describe('NOWPayments sandbox IPN resends', () => {
  it('when our webhook answers 500, then the IPN is resent with backoff until a 2xx, and every attempt is recorded', async () => {
    const receiver = await startReceiver((n) => (n <= 2 ? 500 : 200));
    const harness = await startSandbox({ stepMs: 10 });
    try {
      const input = paymentInput(receiver.url, { orderDescription: '[sandbox:expired]' });
      await harness.client.createPayment(input);
      await eventually(
        'a delivered IPN',
        () =>
          harness.sandbox
            .deliveries({ orderId: input.orderId })
            .find((d) => d.state === 'delivered') ?? false,
      );
      const [delivery] = harness.sandbox.deliveries({ orderId: input.orderId });
      expect(delivery!.attempts.map((a) => a.statusCode)).toEqual([500, 500, 200]);
      expect(delivery!.attempts[2]!.response).toBe('{"ok":true}');
      // Default backoff: stepMs, then twice that (a timer never fires early; 1 ms for rounding).
      const times = delivery!.attempts.map((a) => Date.parse(a.at));
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(9);
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(19);
      expect(receiver.forOrder(input.orderId).map((r) => r.raw)).toEqual(
        Array(3).fill(receiver.received[0]!.raw),
      );
    } finally {
      await harness.stop();
      await receiver.close();
    }
  });

  it('when our webhook keeps failing, then the sandbox gives up after the last attempt', async () => {
    const receiver = await startReceiver(() => 503);
    const harness = await startSandbox({ stepMs: 2, ipnMaxAttempts: 3 });
    try {
      const input = paymentInput(receiver.url, { orderDescription: '[sandbox:expired]' });
      await harness.client.createPayment(input);
      const failed = await eventually(
        'the IPN to be given up',
        () =>
          harness.sandbox
            .deliveries({ orderId: input.orderId })
            .find((d) => d.state === 'failed') ?? false,
      );
      expect(failed.attempts.map((a) => a.statusCode)).toEqual([503, 503, 503]);
      expect(receiver.forOrder(input.orderId)).toHaveLength(3);
    } finally {
      await harness.stop();
      await receiver.close();
    }
  });

  it('when our webhook is slower than the IPN timeout, then the attempt counts as failed and is resent', async () => {
    const receiver = await startReceiver((n) => (n === 1 ? 'hang' : 200));
    const harness = await startSandbox({ stepMs: 5, ipnTimeoutMs: 50 });
    try {
      const input = paymentInput(receiver.url, { orderDescription: '[sandbox:expired]' });
      await harness.client.createPayment(input);
      const delivered = await eventually(
        'a delivered IPN',
        () =>
          harness.sandbox
            .deliveries({ orderId: input.orderId })
            .find((d) => d.state === 'delivered') ?? false,
      );
      expect(delivered.attempts.map((a) => a.statusCode ?? a.error)).toEqual(['timeout', 200]);
    } finally {
      await harness.stop();
      await receiver.close();
    }
  });

  it('when a payment has no ipn_callback_url, then its IPNs are recorded as dropped', async () => {
    const harness = await startSandbox({ stepMs: 2 });
    try {
      const response = await fetch(`${harness.url}/v1/payment`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'test-api-key-0123456789' },
        body: JSON.stringify({
          price_amount: 10,
          price_currency: 'usd',
          pay_currency: 'eth',
          order_id: 'no-hook',
          order_description: '[sandbox:expired]',
        }),
      });
      expect(response.status).toBe(201);
      const dropped = await eventually(
        'the dropped IPN',
        () => harness.sandbox.deliveries({ orderId: 'no-hook' })[0] ?? false,
      );
      expect(dropped).toMatchObject({
        state: 'dropped',
        dropReason: 'no-callback-url',
        attempts: [],
      });
    } finally {
      await harness.stop();
    }
  });

  it('when the sandbox stops, then no scenario step or IPN happens afterwards', async () => {
    const receiver = await startReceiver();
    const harness = await startSandbox({ stepMs: 20 });
    const input = paymentInput(receiver.url);
    const { paymentId } = await harness.client.createPayment(input);
    await harness.stop();
    // Where it stood when it stopped (a busy machine may have let a step or two through).
    const statusAtStop = harness.sandbox.payment(paymentId)?.payment_status;
    const ipnsAtStop = harness.sandbox.deliveries({ orderId: input.orderId }).length;
    // A second sandbox on the same clock speed finishes a whole scenario meanwhile.
    const witness = await startSandbox({ stepMs: 20 });
    try {
      const other = paymentInput(receiver.url);
      await witness.client.createPayment(other);
      await eventually(
        'the witness to finish',
        () => receiver.statuses(other.orderId).length === 4,
      );
      expect(statusAtStop).not.toBe('finished');
      expect(harness.sandbox.payment(paymentId)?.payment_status).toBe(statusAtStop);
      expect(harness.sandbox.deliveries({ orderId: input.orderId })).toHaveLength(ipnsAtStop);
      expect(receiver.statuses(input.orderId).length).toBeLessThanOrEqual(ipnsAtStop);
    } finally {
      await witness.stop();
      await receiver.close();
    }
  });
});
