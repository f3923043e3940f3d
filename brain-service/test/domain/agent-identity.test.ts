import { randomUUID } from 'node:crypto';
import { agentIdFor, defaultRepository, slugFor, uuidV5 } from '../../src/domain/agent-identity';

describe('agent identity', () => {
  test('when a UUID v5 is derived, then it matches the RFC 9562 test vector', () => {
    // RFC 9562 appendix A.4: "www.example.com" in the DNS namespace
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  test('when the same payment id is given twice, then the same agent id; another payment, another id', () => {
    const paymentId = randomUUID();
    expect(agentIdFor(paymentId)).toBe(agentIdFor(paymentId));
    expect(agentIdFor(paymentId.toUpperCase())).toBe(agentIdFor(paymentId));
    expect(agentIdFor(randomUUID())).not.toBe(agentIdFor(paymentId));
    expect(agentIdFor(paymentId)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  test.each([
    ['Invoice Chaser 3000', 'invoice-chaser-3000'],
    ['  Café   Bot!! ', 'cafe-bot'],
    ['***', 'agent'],
    ['A'.repeat(60), 'a'.repeat(40)],
    ['x'.repeat(39) + ' y', 'x'.repeat(39)],
  ])('when the name is %j, then the slug is %j', (name, slug) => {
    expect(slugFor(name)).toBe(slug);
  });

  test('when no repository was given, then it is named from the owner, the slug and the agent id', () => {
    expect(
      defaultRepository('meetmatt-agents', 'support-bot', '2ed6657d-e927-568b-95e1-2665a8aea6a2'),
    ).toBe('meetmatt-agents/support-bot-2ed6657d');
  });
});
