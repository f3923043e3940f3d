import {
  CreatePaymentRequestSchema,
  DeployAgentRequestSchema,
  defaultPlans,
  paymentEvents,
} from '../src';

/** Customers order an agent; where it is built and how many builds it gets are ours to say. */
describe('what an order may say about builds', () => {
  const order = {
    plan: 'starter',
    payCurrency: 'btc',
    agent: { name: 'Support bot', instructions: 'Answer questions.' },
  };

  test('when an order names a repository, any owner, then it is refused at agent.repository', () => {
    for (const repository of ['meetmatt/backend', 'meetmatt-agents/support-bot', 'bot', '']) {
      const parsed = CreatePaymentRequestSchema.safeParse({
        ...order,
        agent: { ...order.agent, repository },
      });
      expect([repository, parsed.success]).toEqual([repository, false]);
      expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual(['agent.repository']);
    }
    expect(CreatePaymentRequestSchema.safeParse(order).success).toBe(true);
  });

  test('when a deploy request names a repository, then it is refused at repository', () => {
    const parsed = DeployAgentRequestSchema.safeParse({
      paymentId: '0b9e7c8e-3d1c-4f55-9a53-4a8e1a0b6c11',
      repository: 'meetmatt/backend',
    });
    expect(parsed.error!.issues.map((i) => i.path.join('.'))).toEqual(['repository']);
  });

  test('when an older payment.confirmed carries a repository, then it still reads: stored events are never rewritten', () => {
    const data = {
      paymentId: '0b9e7c8e-3d1c-4f55-9a53-4a8e1a0b6c11',
      userId: '6a7f0c2e-1b3d-4e5f-8a9b-0c1d2e3f4a5b',
      plan: 'starter',
      priceAmount: 49,
      priceCurrency: 'usd',
      payCurrency: 'btc',
      actuallyPaid: 0.0012,
      agent: { ...order.agent, repository: 'acme/support-bot' },
      autoDeploy: true,
      confirmedAt: '2026-12-01T10:00:00.000Z',
    };
    expect(paymentEvents.confirmed.schema.safeParse(data).success).toBe(true);
  });

  test('when the catalogue is read, then each plan says how many builds it includes', () => {
    expect(Object.fromEntries(defaultPlans.map((p) => [p.id, p.buildsIncluded]))).toEqual({
      starter: 3,
      pro: 10,
      enterprise: 25,
    });
  });
});
