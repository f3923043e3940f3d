import { userEventTypes } from '@meetmatt/contracts';
import { type MailRenderer, type QueuedMail, type RecordedEvent } from '@meetmatt/infra';
import { z } from 'zod';
import { wantsEmail } from '../domain/notification';
import { streams } from '../domain/streams';
import { userDecider } from '../domain/user-decide';
import { type UserDependencies } from './dependencies';
import { deriveToken, emailTokenKey } from './email-tokens';
import { loadStream } from './user-commands';

/**
 * The mails user-service sends. Verification and reset mails come from the service's own events
 * (a checkpointed policy queues them, keyed by the event); agent news from brain-service's events
 * (the bus consumer queues it, keyed by the message). Each is rendered when it is sent: the
 * token of a link is derived then (the event holds only its hash), and the preferences are read
 * then. Verification and reset mails are always sent; agent news only to a user who turned the
 * email channel on for that kind.
 */
export const mailKinds = {
  verifyEmail: 'verify-email',
  passwordReset: 'password-reset',
  agentUpdate: 'agent-update',
} as const;

export const mailPolicyEventTypes = [
  userEventTypes.emailVerificationRequested,
  userEventTypes.passwordResetRequested,
];

const VerificationPayload = z.object({
  userId: z.string(),
  requestId: z.string(),
  email: z.string(),
  expiresAt: z.string(),
});
const ResetPayload = z.object({ userId: z.string(), requestId: z.string(), expiresAt: z.string() });
const AgentPayload = z.object({
  userId: z.string(),
  kind: z.enum(['agent.deployed', 'agent.deploy-failed']),
  title: z.string(),
  body: z.string(),
  link: z.string().nullable(),
});
export type AgentMail = z.infer<typeof AgentPayload>;

/** The mails one of the service's own events asks for. */
export function mailsForUserEvent(event: RecordedEvent): QueuedMail[] {
  if (event.type === userEventTypes.emailVerificationRequested) {
    const data = VerificationPayload.parse(event.data);
    return [
      { key: `${event.id}:${mailKinds.verifyEmail}`, kind: mailKinds.verifyEmail, payload: data },
    ];
  }
  if (event.type === userEventTypes.passwordResetRequested) {
    const data = ResetPayload.parse(event.data);
    return [
      {
        key: `${event.id}:${mailKinds.passwordReset}`,
        kind: mailKinds.passwordReset,
        payload: data,
      },
    ];
  }
  return [];
}

export function agentMail(eventId: string, payload: AgentMail): QueuedMail {
  return { key: `${eventId}:${mailKinds.agentUpdate}`, kind: mailKinds.agentUpdate, payload };
}

export function userMailRenderers(
  deps: Pick<UserDependencies, 'catalog' | 'config' | 'store'>,
): Record<string, MailRenderer> {
  const key = emailTokenKey(deps.config);
  const app = deps.config.MAIL_APP_URL.replace(/\/$/, '');
  const link = (path: string, token: string) => `${app}${path}?token=${encodeURIComponent(token)}`;
  const until = (iso: string) => new Date(iso).toUTCString();
  return {
    [mailKinds.verifyEmail]: async (raw) => {
      const p = VerificationPayload.parse(raw);
      const url = link('/verify-email', deriveToken(key, 'verify-email', p.userId, p.requestId));
      return {
        to: p.email,
        subject: 'Confirm your email for Meet Matt',
        text: `Welcome to Meet Matt.\n\nConfirm that this address is yours:\n${url}\n\nThe link works once, until ${until(p.expiresAt)}. If you did not sign up, ignore this mail.\n`,
      };
    },
    [mailKinds.passwordReset]: async (raw) => {
      const p = ResetPayload.parse(raw);
      const user = await loadStream(deps, userDecider, streams.user(p.userId));
      if (user.state.status !== 'registered') return { skip: 'no such user' };
      const url = link(
        '/reset-password',
        deriveToken(key, 'password-reset', p.userId, p.requestId),
      );
      return {
        to: user.state.email,
        subject: 'Reset your Meet Matt password',
        text: `Someone asked to reset the password of your Meet Matt account.\n\nSet a new one here:\n${url}\n\nThe link works once, until ${until(p.expiresAt)}, and signs you out everywhere. If it was not you, ignore this mail: your password stays as it is.\n`,
      };
    },
    [mailKinds.agentUpdate]: async (raw) => {
      const p = AgentPayload.parse(raw);
      const user = await loadStream(deps, userDecider, streams.user(p.userId));
      if (user.state.status !== 'registered') return { skip: 'no such user' };
      if (!wantsEmail(user.state.preferences, p.kind)) return { skip: 'preferences: no email' };
      const where = p.link ? `\n\n${app}${p.link}` : '';
      return { to: user.state.email, subject: p.title, text: `${p.body}${where}\n` };
    },
  };
}
