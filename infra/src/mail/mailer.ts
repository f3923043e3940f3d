import { type Transporter, createTransport } from 'nodemailer';
import { type MailConfig } from './config';

export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** A mail ready to go: one recipient, a text part, an optional HTML part and attachments. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  attachments?: MailAttachment[];
}

export interface Mailer {
  /**
   * Sends one mail. `messageId` is stable per mail (the outbox key), so a mail sent again after
   * a crash carries the same Message-ID and a reader's client can fold the two.
   */
  send(mail: OutgoingMail, messageId: string): Promise<void>;
  close(): void;
}

/**
 * Mail over SMTP (nodemailer). Every wait is bounded: connecting, the server's greeting, and
 * any silence on the socket. The credentials go to nodemailer only: nothing here logs them,
 * and nodemailer's own logger is off.
 */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    private readonly config: Pick<
      MailConfig,
      | 'SMTP_URL'
      | 'SMTP_USER'
      | 'SMTP_PASSWORD'
      | 'MAIL_FROM'
      | 'SMTP_CONNECT_TIMEOUT_MS'
      | 'SMTP_GREETING_TIMEOUT_MS'
      | 'SMTP_SOCKET_TIMEOUT_MS'
    >,
  ) {
    const url = new URL(config.SMTP_URL);
    const secure = url.protocol === 'smtps:';
    this.transport = createTransport({
      host: url.hostname,
      port: Number(url.port) || (secure ? 465 : 587),
      secure,
      ...(config.SMTP_USER
        ? { auth: { user: config.SMTP_USER, pass: config.SMTP_PASSWORD ?? '' } }
        : {}),
      connectionTimeout: config.SMTP_CONNECT_TIMEOUT_MS,
      greetingTimeout: config.SMTP_GREETING_TIMEOUT_MS,
      socketTimeout: config.SMTP_SOCKET_TIMEOUT_MS,
      // DNS and the whole send are bounded by the socket timeout too.
      dnsTimeout: config.SMTP_CONNECT_TIMEOUT_MS,
      logger: false,
      debug: false,
    });
  }

  async send(mail: OutgoingMail, messageId: string): Promise<void> {
    try {
      await this.deliver(mail, messageId);
    } catch (error) {
      throw new Error(mailErrorText(error, this.config));
    }
  }

  private async deliver(mail: OutgoingMail, messageId: string): Promise<void> {
    await this.transport.sendMail({
      from: this.config.MAIL_FROM,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      ...(mail.html ? { html: mail.html } : {}),
      messageId: `<${messageId}@meetmatt>`,
      attachments: (mail.attachments ?? []).map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        content: a.content,
      })),
    });
  }

  close(): void {
    this.transport.close();
  }
}

/** A send error as it may be logged: nodemailer's message, never the credentials it was given. */
export function mailErrorText(error: unknown, config: Pick<MailConfig, 'SMTP_PASSWORD'>): string {
  const text = error instanceof Error ? error.message : String(error);
  const password = config.SMTP_PASSWORD;
  return (password ? text.split(password).join('***') : text).slice(0, 500);
}
