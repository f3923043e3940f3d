import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { agentEvents } from '@meetmatt/contracts';
import {
  captureLogger,
  createTestDatabase,
  eventually,
  type TestDatabase,
} from '@meetmatt/infra/testing';
import { type RunningPaymentService, start as startPayment } from '@meetmatt/payment-service';
import {
  type NowPaymentsSandbox,
  createNowPaymentsSandbox,
} from '@meetmatt/payment-service/nowpayments/index';
import { agentIdFor } from '../../src/domain/agent-identity';
import {
  type AgentDetail,
  type BrainWorld,
  sessionsOf,
  startWorld,
  whenReady,
} from '../support/harness';

/**
 * The whole deployment flow across two real services on one bus: a user pays in the
 * NOWPayments sandbox, the payment service confirms it from the sandbox's signed IPNs and
 * publishes payment.confirmed, the brain deploys the agent, and Devin's sandbox builds it. The
 * only request anyone makes is the payment's creation.
 */
describe('from a sandbox payment to a deployed agent', () => {
  let world: BrainWorld;
  let paymentDatabase: TestDatabase;
  let nowPayments: NowPaymentsSandbox;
  let payment: RunningPaymentService;

  beforeAll(async () => {
    world = await startWorld();
    const apiKey = `np-${randomBytes(6).toString('hex')}`;
    const ipnSecret = `ipn-${randomBytes(12).toString('hex')}`;
    nowPayments = createNowPaymentsSandbox({ apiKey, ipnSecret, stepMs: 20 });
    const { url: nowPaymentsUrl } = await nowPayments.start(0);
    paymentDatabase = await createTestDatabase('payment');
    payment = await startPayment({
      logger: captureLogger('payment-service').logger,
      env: {
        PORT: '0',
        DATABASE_URL: paymentDatabase.url,
        RABBITMQ_URL: world.vhost.url,
        NOWPAYMENTS_API_URL: nowPaymentsUrl,
        NOWPAYMENTS_API_KEY: apiKey,
        NOWPAYMENTS_IPN_SECRET: ipnSecret,
        NOWPAYMENTS_TIMEOUT_MS: '2000',
        RECONCILER_INTERVAL_MS: '0',
        ...world.issuer.env,
      },
    });
    await whenReady(payment.url);
  });
  afterAll(async () => {
    await nowPayments?.stop();
    await payment?.stop();
    await paymentDatabase?.drop();
    await world?.stop();
  });

  test('when a user pays for an agent and the payment plays to finished, then the agent is deployed with no hand in between', async () => {
    const user = await world.issuer.user();
    const created = await request(payment.url)
      .post('/payments/create')
      .set('Authorization', user.authorization)
      .send({
        plan: 'starter',
        payCurrency: 'btc',
        agent: { name: 'Refund Helper', instructions: 'Help customers ask for refunds.' },
      });
    expect(created.status).toBe(201);
    const paymentId = created.body.id as string;
    const agentId = agentIdFor(paymentId);

    const deployed = await world.bus.waitFor(
      'agent.deployed',
      (e) => e.type === agentEvents.deployed.type && e.subject === `agent-${agentId}`,
      30_000,
    );

    expect(deployed.data).toMatchObject({ agentId, paymentId, userId: user.userId, build: 1 });
    const status = await request(payment.url)
      .get(`/payments/${paymentId}/status`)
      .set('Authorization', user.authorization);
    expect(status.body.status).toBe('finished');
    const agent = await eventually('the agent read model', async () => {
      const res = await world
        .api()
        .get(`/agents/${agentId}`)
        .set('Authorization', user.authorization);
      const body = res.body as AgentDetail;
      return body.status === 'deployed' && body;
    });
    expect(agent).toMatchObject({
      paymentId,
      userId: user.userId,
      name: 'Refund Helper',
      pullRequestUrl: expect.stringMatching(/^https:\/\/github\.com\/.+\/pull\/1$/),
    });
    expect(agent.history[0]?.detail).toMatch(/on payment/);
    // the budget came with the payment, from the payment service's catalogue
    const sessions = sessionsOf(world, agentId);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.max_acu_limit).toBe(10);
    expect(sessions[0]?.prompt).toContain('Help customers ask for refunds.');
    // the brain's part of the journey carries one correlation id, from the request to the deploy
    const deployRequested = world.bus.of(agentId)[0];
    expect(deployRequested?.type).toBe(agentEvents.deployRequested.type);
    expect(deployRequested?.correlationid).toBe(deployed.correlationid);
  });
});
