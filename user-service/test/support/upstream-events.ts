import { randomUUID } from 'node:crypto';
import { agentEvents, paymentEvents, services } from '@meetmatt/contracts';

/** Payment and agent events as payment-service and brain-service publish them; overrides win. */
export const upstreamEvents = {
  paymentCreated(userId: string, overrides: Record<string, unknown> = {}) {
    const paymentId = randomUUID();
    return {
      type: paymentEvents.created.type,
      source: services.payment.name,
      streamId: `payment-${paymentId}`,
      data: {
        paymentId,
        userId,
        plan: 'starter',
        priceAmount: 49,
        priceCurrency: 'usd',
        payCurrency: 'btc',
        payAmount: 0.0012,
        payAddress: 'bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh',
        payinExtraId: null,
        providerPaymentId: '5524759814',
        expiresAt: null,
        agent: { name: 'Helper', instructions: 'Answer support emails' },
        autoDeploy: true,
        createdAt: new Date().toISOString(),
        ...overrides,
      },
    };
  },
  paymentConfirmed(userId: string, overrides: Record<string, unknown> = {}) {
    const paymentId = randomUUID();
    return {
      type: paymentEvents.confirmed.type,
      source: services.payment.name,
      streamId: `payment-${paymentId}`,
      data: {
        paymentId,
        userId,
        plan: 'starter',
        priceAmount: 49,
        priceCurrency: 'usd',
        payCurrency: 'btc',
        actuallyPaid: 0.0012,
        agent: { name: 'Helper', instructions: 'Answer support emails' },
        autoDeploy: true,
        confirmedAt: new Date().toISOString(),
        ...overrides,
      },
    };
  },
  paymentExpired(userId: string) {
    const paymentId = randomUUID();
    return {
      type: paymentEvents.expired.type,
      source: services.payment.name,
      streamId: `payment-${paymentId}`,
      data: { paymentId, userId, at: new Date().toISOString() },
    };
  },
  agentDeployed(userId: string) {
    const agentId = randomUUID();
    return {
      type: agentEvents.deployed.type,
      source: services.brain.name,
      streamId: `agent-${agentId}`,
      data: {
        agentId,
        userId,
        paymentId: randomUUID(),
        sessionId: 'devin-abc',
        repository: 'acme/helper',
        pullRequestUrl: 'https://github.com/acme/helper/pull/1',
        structuredOutput: null,
        build: 1,
        deployedAt: new Date().toISOString(),
      },
    };
  },
  agentDeployFailed(userId: string, final: boolean) {
    const agentId = randomUUID();
    return {
      type: agentEvents.deployFailed.type,
      source: services.brain.name,
      streamId: `agent-${agentId}`,
      data: {
        agentId,
        userId,
        paymentId: randomUUID(),
        sessionId: null,
        reason: 'the Devin session expired',
        attempt: final ? 2 : 1,
        build: 1,
        final,
        failedAt: new Date().toISOString(),
      },
    };
  },
  agentRebuildRequested(userId: string) {
    const agentId = randomUUID();
    return {
      type: agentEvents.rebuildRequested.type,
      source: services.brain.name,
      streamId: `agent-${agentId}`,
      data: {
        agentId,
        userId,
        instructions: 'Also answer in French',
        build: 2,
        requestedAt: new Date().toISOString(),
      },
    };
  },
};
