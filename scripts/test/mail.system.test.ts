import { randomUUID } from 'node:crypto';
import { eventually } from '@meetmatt/infra/testing';
import { type TestSystem, startSystem } from './support/spawned-system';

interface Indexed {
  id: string;
  subject: string;
  attachments: { filename: string | null; contentType: string }[];
}

/**
 * Mail through the whole system as `npm start` runs it: the services send over real SMTP to the
 * same local SMTP server (scripts/src/lib/smtp-server.ts), and the test reads what it received.
 */
describe('mail, end to end through the gateway and the local SMTP server', () => {
  let system: TestSystem;
  const email = `mail.${randomUUID().slice(0, 8)}@example.com`;
  const password = `pw-${randomUUID()}`;
  let userId = '';
  let authorization = '';

  beforeAll(async () => {
    system = await startSystem({ MAIL_RETRY_MIN_MS: '100', MAIL_POLL_INTERVAL_MS: '100' });
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
  });

  const api = (path: string, init: { method?: string; body?: unknown; auth?: boolean } = {}) =>
    fetch(`${system.gatewayUrl}${path}`, {
      method: init.method ?? 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(init.auth ? { Authorization: authorization } : {}),
        'Idempotency-Key': randomUUID(),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });

  /** The mail to `email` whose subject matches, once the SMTP server has it. */
  const mailTo = (what: RegExp) =>
    eventually(
      `a mail "${String(what)}" to ${email}`,
      async () => {
        const res = await fetch(`${system.mailUrl}/messages?to=${encodeURIComponent(email)}`);
        const { messages } = (await res.json()) as { messages: Indexed[] };
        return messages.find((m) => what.test(m.subject)) ?? false;
      },
      30_000,
    );
  const tokenIn = async (mail: Indexed) => {
    const res = await fetch(`${system.mailUrl}/messages/${mail.id}`);
    const { text } = (await res.json()) as { text: string };
    return decodeURIComponent(/token=(\S+)/.exec(text)![1]!);
  };

  test('when a user signs up, then the verification mail arrives and its link works once', async () => {
    const res = await api('/auth/register', { body: { email, password, displayName: 'Mia' } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { user: { id: string }; accessToken: string };
    userId = body.user.id;
    authorization = `Bearer ${body.accessToken}`;

    const token = await tokenIn(await mailTo(/Confirm your email/));
    expect((await api('/auth/verify-email', { body: { token } })).status).toBe(204);
    expect((await api('/auth/verify-email', { body: { token } })).status).toBe(410);
  });

  test('when a user who wants mail pays, then the receipt with the invoice PDF arrives, and the agent news', async () => {
    const prefs = await api(`/users/${userId}/preferences`, {
      method: 'PUT',
      auth: true,
      body: {
        notificationChannels: ['in_app', 'email'],
        notifyOn: {
          paymentConfirmed: true,
          paymentFailed: true,
          agentDeployed: true,
          agentFailed: true,
        },
        defaultPayCurrency: null,
        timeZone: 'UTC',
        locale: 'en',
      },
    });
    expect(prefs.status).toBe(200);
    const created = await api('/payments/create', {
      auth: true,
      body: {
        plan: 'starter',
        payCurrency: 'btc',
        agent: { name: 'Ассистент 日本 Zoë', instructions: 'Answer support mail.' },
        autoDeploy: true,
      },
    });
    expect(created.status).toBe(201);

    const receipt = await mailTo(/receipt MM-\d{4}-\d{6}/);
    expect(receipt.attachments).toEqual([
      expect.objectContaining({ contentType: 'application/pdf' }),
    ]);
    const pdf = await fetch(`${system.mailUrl}/messages/${receipt.id}/attachments/0`);
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');

    await mailTo(/deployed/i);
  });

  test('when a reset is asked for, then the mail arrives, its link sets the password once', async () => {
    expect((await api('/auth/password-reset', { body: { email } })).status).toBe(202);
    const token = await tokenIn(await mailTo(/Reset your/));
    const newPassword = `pw-${randomUUID()}`;
    const confirm = { token, newPassword };
    expect((await api('/auth/password-reset/confirm', { body: confirm })).status).toBe(204);
    expect((await api('/auth/password-reset/confirm', { body: confirm })).status).toBe(410);
    const login = await api('/auth/login', { body: { email, password: newPassword } });
    expect(login.status).toBe(200);
  });
});
