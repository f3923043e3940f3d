import { GatewaySecret } from '@meetmatt/infra';

describe('gateway secret', () => {
  const gateway = new GatewaySecret('s3cret-shared-with-the-gateway');

  test('when the header carries the shared secret, then it is the gateway', () => {
    expect(gateway.matches('s3cret-shared-with-the-gateway')).toBe(true);
  });

  test('when the header is missing, empty, repeated or any other value, then it is not the gateway', () => {
    for (const presented of [
      undefined,
      '',
      's3cret-shared-with-the-gatewaY',
      's3cret-shared-with-the-gateway ',
      's3cret',
      ['s3cret-shared-with-the-gateway'],
    ])
      expect([presented, gateway.matches(presented)]).toEqual([presented, false]);
  });

  test('when no secret is configured, then nobody is the gateway, not even an empty header', () => {
    const unset = new GatewaySecret(undefined);
    expect([unset.configured, unset.matches(''), unset.matches('anything')]).toEqual([
      false,
      false,
      false,
    ]);
  });

  test('when a previous secret is kept during a rotation, then the new and the previous one pass and nothing else', () => {
    const rotating = new GatewaySecret(
      'new-secret-of-the-gateway-0002',
      'old-secret-of-the-gateway-0001',
    );
    expect([
      rotating.matches('new-secret-of-the-gateway-0002'),
      rotating.matches('old-secret-of-the-gateway-0001'),
      rotating.matches('older-secret-of-the-gateway-0000'),
    ]).toEqual([true, true, false]);
  });
});
