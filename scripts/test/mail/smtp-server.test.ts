import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SmtpMailer, mailConfig } from '@meetmatt/infra';
import { z } from 'zod';
import { type RunningMailCatcher, startMailCatcher } from '../../src/lib/smtp-server';

const config = (smtpPort: number, extra: Record<string, string> = {}) =>
  z.object(mailConfig).parse({ SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, ...extra });

describe('the local SMTP server', () => {
  let catcher: RunningMailCatcher;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mail-'));
    catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0, dir });
  });
  afterAll(async () => {
    await catcher.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a mail with an attachment is sent over SMTP, then it is kept as .eml, indexed, and readable over HTTP', async () => {
    const mailer = new SmtpMailer(
      config(catcher.smtpPort, { SMTP_USER: 'someone', SMTP_PASSWORD: 'pw-not-logged' }),
    );
    const to = `buyer-${Date.now()}@example.com`;
    const pdf = Buffer.from('%PDF-1.4 test');
    await mailer.send(
      {
        to,
        subject: 'Your receipt Ассистент',
        text: 'Thanks',
        attachments: [{ filename: 'invoice.pdf', contentType: 'application/pdf', content: pdf }],
      },
      'key-1',
    );
    mailer.close();

    const list = (await (await fetch(`${catcher.httpUrl}/messages?to=${to}`)).json()) as {
      messages: { id: string; subject: string; messageId: string; attachments: unknown[] }[];
    };
    expect(list.messages).toHaveLength(1);
    const [entry] = list.messages;
    expect(entry).toMatchObject({
      subject: 'Your receipt Ассистент',
      messageId: '<key-1@meetmatt>',
      attachments: [{ filename: 'invoice.pdf', contentType: 'application/pdf' }],
    });
    const eml = readFileSync(path.join(dir, `${entry!.id}.eml`), 'utf8');
    expect(eml).toContain(`To: ${to}`);
    const parsed = (await (await fetch(`${catcher.httpUrl}/messages/${entry!.id}`)).json()) as {
      text: string;
    };
    expect(parsed.text.trim()).toBe('Thanks');
    const attachment = await fetch(`${catcher.httpUrl}/messages/${entry!.id}/attachments/0`);
    expect(Buffer.from(await attachment.arrayBuffer())).toEqual(pdf);
  });

  it('when nothing listens, then the send fails within the connect timeout', async () => {
    const mailer = new SmtpMailer(config(1, { SMTP_CONNECT_TIMEOUT_MS: '500' }));
    const started = Date.now();
    await expect(
      mailer.send({ to: 'a@example.com', subject: 's', text: 't' }, 'k'),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
    mailer.close();
  });
});
