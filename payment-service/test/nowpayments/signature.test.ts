import { createHmac } from 'node:crypto';
import {
  canonicalIpnJson,
  signIpn,
  sortKeysDeep,
  verifyIpnSignature,
} from '../../src/nowpayments/signature';

/** A current IPN body: note the nested `fee` object whose keys are not in order. */
function ipnBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    payment_id: 5077125051,
    payment_status: 'finished',
    pay_address: 'bc1qexample',
    price_amount: 49,
    price_currency: 'usd',
    pay_amount: 0.00081667,
    actually_paid: 0.00081667,
    pay_currency: 'btc',
    order_id: 'pay_01',
    order_description: 'Starter plan',
    outcome_amount: 0.00081259,
    outcome_currency: 'btc',
    fee: { currency: 'btc', depositFee: 0, withdrawalFee: 0, serviceFee: 0.0004 },
    payment_extra_ids: null,
    invoice_id: null,
    parent_payment_id: null,
    payin_extra_id: null,
    purchase_id: '6084744717',
    actually_paid_at_fiat: 49,
    ...overrides,
  };
}

// Computed outside Node (Python: json.dumps(sort_keys=True, separators=(',', ':'),
// ensure_ascii=False), then hmac.new(secret, text, sha512).hexdigest()).
const PYTHON_VECTOR_PLAIN =
  '3fd63ed8a7430e11e26fe9c0ca885b6ab88ab6e9ce43299f1831867f10116967057ee6af71f74f4ad8a6e41c0829cbff2b11b87841ffb3c541e596df8d11123c';
const PYTHON_VECTOR_UNICODE =
  '8fe1b7f6b8cfec437b112c327fb1b87fee885b249aa0ebe902827515e360e1db6352152f0829ffd8f1f6db181a9a95ec470d1c5426e26cd5f1bbf300315bdc27';

/** A second, separately written canonical form: builds the text by hand instead of sorting. */
function referenceCanonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(referenceCanonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${referenceCanonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function referenceSignature(body: unknown, key: string): string {
  return createHmac('sha512', key).update(referenceCanonical(body)).digest('hex');
}

function topLevelOnlySignature(body: Record<string, unknown>, key: string): string {
  const sorted = Object.fromEntries(
    Object.keys(body)
      .sort()
      .map((k) => [k, body[k]]),
  );
  return createHmac('sha512', key).update(JSON.stringify(sorted)).digest('hex');
}

/** The same object with its keys inserted in reverse order, at every depth. */
function reverseKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeysDeep);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).reverse();
  return Object.fromEntries(keys.map((k) => [k, reverseKeysDeep(record[k])]));
}

describe('IPN signature', () => {
  const secret = 'my-ipn-secret';

  it('when a body with a nested fee object is signed, then it matches the vector computed outside Node', () => {
    expect(signIpn(ipnBody(), secret)).toBe(PYTHON_VECTOR_PLAIN);
  });

  it('when a body is signed, then it matches a separately written canonical form', () => {
    const body = ipnBody({ payment_status: 'confirming', actually_paid: 0.0004 });
    expect(signIpn(body, secret)).toBe(referenceSignature(body, secret));
  });

  it('when written directly, then the canonical form is JSON.stringify of the sorted copy, for any JSON', () => {
    const bodies: unknown[] = [
      ipnBody(),
      reverseKeysDeep(ipnBody({ extra: [{ b: 1, a: [3, { d: null, c: 'é"\\n' }] }, [], {}] })),
      JSON.parse(
        '{"__proto__":{"z":1,"a":2},"constructor":"x","10":1,"9":2,"b":[null,true,-0.5e-7]}',
      ),
      // Keys Object.prototype also has, in some objects and not in others.
      JSON.parse('{"a":{"toString":"x","valueOf":1},"b":{"c":{"hasOwnProperty":null}},"d":[{}]}'),
      { skipped: undefined, kept: 0, list: [undefined, () => 1, 'x'] },
      [],
      'just a string',
      42,
      null,
    ];
    for (const body of bodies)
      expect(canonicalIpnJson(body)).toBe(JSON.stringify(sortKeysDeep(body)));
    expect(() => canonicalIpnJson(undefined)).toThrow(TypeError);
  });

  it('when only the top level is sorted, then the signature differs because of the fee object', () => {
    const body = ipnBody();
    expect(topLevelOnlySignature(body, secret)).not.toBe(signIpn(body, secret));
    expect(verifyIpnSignature(body, topLevelOnlySignature(body, secret), secret)).toBe(false);
  });

  it('when keys arrive in another order at any depth, then the signature is the same', () => {
    const body = ipnBody();
    const reversed = reverseKeysDeep(body);
    expect(JSON.stringify(reversed)).not.toBe(JSON.stringify(body));
    expect(signIpn(reversed, secret)).toBe(signIpn(body, secret));
    expect(verifyIpnSignature(reversed, signIpn(body, secret), secret)).toBe(true);
  });

  it('when arrays hold objects, then the objects are sorted but the array order is kept', () => {
    const body = { list: [{ b: 1, a: 2 }, 3, [{ d: 4, c: 5 }]] };
    expect(canonicalIpnJson(body)).toBe('{"list":[{"a":2,"b":1},3,[{"c":5,"d":4}]]}');
    const swapped = { list: [3, { b: 1, a: 2 }, [{ d: 4, c: 5 }]] };
    expect(signIpn(swapped, secret)).not.toBe(signIpn(body, secret));
  });

  it('when the secret has whitespace around it, then it is trimmed before keying', () => {
    const body = ipnBody();
    const signature = signIpn(body, secret);
    expect(signIpn(body, `  ${secret}\n`)).toBe(signature);
    expect(verifyIpnSignature(body, signature, `\t${secret} `)).toBe(true);
  });

  it('when the body holds unicode and escapes, then it matches the vector computed outside Node', () => {
    const body = {
      order_description: 'Café ☕ — 日本 "quoted" \\ back',
      payment_id: 7,
      z: [{ b: 1, a: 2 }, [3, { d: null, c: true }]],
      é: 'accent key',
    };
    expect(signIpn(body, ' spaced-secret ')).toBe(PYTHON_VECTOR_UNICODE);
  });

  it('when the signature is right, then verification passes, also for a body parsed from raw bytes', () => {
    const body = ipnBody();
    const raw = Buffer.from(JSON.stringify(body, null, 2));
    expect(
      verifyIpnSignature(JSON.parse(raw.toString('utf8')), signIpn(body, secret), secret),
    ).toBe(true);
  });

  it('when the signature is written in upper case, then the same digest still verifies', () => {
    const body = ipnBody();
    expect(verifyIpnSignature(body, signIpn(body, secret).toUpperCase(), secret)).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['short', 'abcd'],
    ['one character short', 'a'.repeat(127)],
    ['one character long', 'a'.repeat(129)],
    ['not hex', 'z'.repeat(128)],
    ['an array of headers', ['a'.repeat(128)]],
    ['a number', 42],
  ])('when the signature is %s, then verification is false without throwing', (_, header) => {
    expect(verifyIpnSignature(ipnBody(), header, secret)).toBe(false);
  });

  it('when the body, the secret or one digit of the signature changes, then verification is false', () => {
    const body = ipnBody();
    const signature = signIpn(body, secret);
    const flipped = (signature[0] === '0' ? '1' : '0') + signature.slice(1);
    expect(verifyIpnSignature(body, flipped, secret)).toBe(false);
    expect(verifyIpnSignature(ipnBody({ actually_paid: 0.0008 }), signature, secret)).toBe(false);
    expect(
      verifyIpnSignature(
        ipnBody({ fee: { ...(body.fee as object), serviceFee: 0 } }),
        signature,
        secret,
      ),
    ).toBe(false);
    expect(verifyIpnSignature(body, signature, 'another-secret')).toBe(false);
  });

  it('when the secret is empty or blank, then nothing verifies and signing refuses', () => {
    const body = ipnBody();
    const blankKeyed = createHmac('sha512', '').update(canonicalIpnJson(body)).digest('hex');
    expect(verifyIpnSignature(body, blankKeyed, '   ')).toBe(false);
    expect(() => signIpn(body, '')).toThrow(TypeError);
  });

  it('when the body is not a JSON value, then verification is false', () => {
    expect(verifyIpnSignature(undefined, 'a'.repeat(128), secret)).toBe(false);
  });

  it('when a key is named __proto__, then it is signed as an ordinary key', () => {
    const body: unknown = JSON.parse('{"b":1,"__proto__":{"y":1,"x":2}}');
    expect(canonicalIpnJson(body)).toBe('{"__proto__":{"x":2,"y":1},"b":1}');
    expect(signIpn(body, secret)).toBe(referenceSignature(body, secret));
  });

  it('when sorting, then the input is left untouched', () => {
    const body = ipnBody();
    const before = JSON.stringify(body);
    sortKeysDeep(body);
    expect(JSON.stringify(body)).toBe(before);
  });
});
