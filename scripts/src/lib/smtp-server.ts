/**
 * The local SMTP server of `npm start` and the tests: a real SMTP process (the `smtp-server`
 * package) that accepts every mail and keeps it under `.run/mail/<smtp port>/` as an .eml file,
 * with one JSON line per mail in `index.jsonl`. It answers nobody outside this machine and
 * delivers nothing further. Read what it kept over HTTP:
 *
 *   GET /messages                 the index, newest last (?to=<address> narrows it)
 *   GET /messages/:id             one mail parsed: headers, text, HTML, attachments (no content)
 *   GET /messages/:id/raw         the .eml as received
 *   GET /messages/:id/attachments/:n   one attachment's bytes
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { type AddressObject, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface IndexedMail {
  id: string;
  receivedAt: string;
  envelopeFrom: string | null;
  envelopeTo: string[];
  subject: string;
  messageId: string | null;
  attachments: { filename: string | null; contentType: string; size: number }[];
  size: number;
}

export interface MailCatcherOptions {
  smtpPort: number;
  httpPort: number;
  dir: string;
  host?: string;
}

export interface RunningMailCatcher {
  smtpPort: number;
  httpUrl: string;
  dir: string;
  stop(): Promise<void>;
}

const MAX_SIZE = 25 * 1024 * 1024;

export async function startMailCatcher(options: MailCatcherOptions): Promise<RunningMailCatcher> {
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dir, { recursive: true });
  const indexFile = path.join(options.dir, 'index.jsonl');
  if (!existsSync(indexFile)) writeFileSync(indexFile, '');

  const smtp = new SMTPServer({
    // Local only, no certificate: plain SMTP; AUTH (any user) is accepted so a client configured
    // with SMTP_USER works against it too.
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    size: MAX_SIZE,
    socketTimeout: 30_000,
    closeTimeout: 5_000,
    logger: false,
    onAuth: (_auth, _session, callback) => callback(null, { user: 'local' }),
    onData: (stream, session, callback) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error) => callback(error));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        keep(raw, {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          to: session.envelope.rcptTo.map((r) => r.address),
        }).then(
          () => callback(),
          (error: Error) => callback(error),
        );
      });
    },
  });

  async function keep(raw: Buffer, envelope: { from: string | null; to: string[] }) {
    const parsed = await simpleParser(raw);
    const id = `${Date.now()}-${randomBytes(4).toString('hex')}`;
    writeFileSync(path.join(options.dir, `${id}.eml`), raw);
    const entry: IndexedMail = {
      id,
      receivedAt: new Date().toISOString(),
      envelopeFrom: envelope.from,
      envelopeTo: envelope.to,
      subject: parsed.subject ?? '',
      messageId: parsed.messageId ?? null,
      attachments: parsed.attachments.map((a) => ({
        filename: a.filename ?? null,
        contentType: a.contentType,
        size: a.size,
      })),
      size: raw.length,
    };
    // One line per write (well under PIPE_BUF-sized appends are not needed: one process writes).
    appendFileSync(indexFile, `${JSON.stringify(entry)}\n`);
  }

  const readIndex = (): IndexedMail[] =>
    readFileSync(indexFile, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as IndexedMail);

  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method !== 'GET') return json(405, { error: 'GET only' });
    if (url.pathname === '/healthz') return json(200, { ok: true });
    if (parts[0] !== 'messages') return json(404, { error: 'see GET /messages' });
    const all = readIndex();
    if (parts.length === 1) {
      const to = url.searchParams.get('to')?.toLowerCase();
      return json(200, {
        messages: to ? all.filter((m) => m.envelopeTo.some((t) => t.toLowerCase() === to)) : all,
      });
    }
    const entry = all.find((m) => m.id === parts[1]);
    if (!entry || !/^[\w-]+$/.test(entry.id)) return json(404, { error: 'no such message' });
    const raw = readFileSync(path.join(options.dir, `${entry.id}.eml`));
    if (parts[2] === 'raw') {
      res.writeHead(200, { 'Content-Type': 'message/rfc822' });
      return res.end(raw);
    }
    simpleParser(raw).then(
      (parsed) => {
        if (parts[2] === 'attachments') {
          const attachment = parsed.attachments[Number(parts[3])];
          if (!attachment) return json(404, { error: 'no such attachment' });
          res.writeHead(200, { 'Content-Type': attachment.contentType });
          return res.end(attachment.content);
        }
        json(200, {
          ...entry,
          from: addresses(parsed.from),
          to: addresses(parsed.to),
          text: parsed.text ?? '',
          html: typeof parsed.html === 'string' ? parsed.html : null,
        });
      },
      (error: Error) => json(500, { error: error.message }),
    );
  });

  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(options.smtpPort, host, () => resolve());
  });
  smtp.on('error', (error) => process.stderr.write(`smtp: ${error.message}\n`));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.httpPort, host, () => resolve());
  });
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  const httpPort = (http.address() as AddressInfo).port;
  return {
    smtpPort,
    httpUrl: `http://${host}:${httpPort}`,
    dir: options.dir,
    stop: async () => {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      await closeHttp(http);
    },
  };
}

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((a) => a.value.map((v) => v.address ?? '')).filter(Boolean);
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

if (require.main === module) {
  const port = (name: string, fallback: number) => {
    const value = Number(process.env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      process.stderr.write(`${name} must be a port number\n`);
      process.exit(1);
    }
    return value;
  };
  const smtpPort = port('MAIL_SMTP_PORT', 2525);
  const dir =
    process.env.MAIL_DIR ??
    path.resolve(__dirname, '..', '..', '..', '.run', 'mail', String(smtpPort));
  startMailCatcher({ smtpPort, httpPort: port('MAIL_HTTP_PORT', 3103), dir }).then(
    (running) => {
      process.stdout.write(
        `smtp on 127.0.0.1:${running.smtpPort}, mail kept in ${running.dir}, read at ${running.httpUrl}/messages\n`,
      );
      const stop = () => void running.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (error: Error) => {
      process.stderr.write(`mail server failed: ${error.message}\n`);
      process.exit(1);
    },
  );
}
