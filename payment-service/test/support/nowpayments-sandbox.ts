import { randomUUID } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type CreatePaymentInput, NowPaymentsClient } from '../../src/nowpayments/client';
import {
  type NowPaymentsSandbox,
  type NowPaymentsSandboxOptions,
  createNowPaymentsSandbox,
} from '../../src/nowpayments/sandbox';

export const API_KEY = 'test-api-key-0123456789';
export const IPN_SECRET = 'test-ipn-secret';

export interface ReceivedIpn {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

/** What the receiver answers to the n-th request (from 1): a status, or never. */
export type Answer = (n: number) => number | 'hang';

/** A stand-in for our webhook: records every IPN and answers as told. */
export interface Receiver {
  url: string;
  received: ReceivedIpn[];
  /** The statuses received for one order, in arrival order. */
  statuses(orderId: string): string[];
  forOrder(orderId: string): ReceivedIpn[];
  answer: Answer;
  close(): Promise<void>;
}

export async function startReceiver(answer: Answer = () => 200): Promise<Receiver> {
  const received: ReceivedIpn[] = [];
  let count = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, raw, body: JSON.parse(raw) });
      const status = receiver.answer(++count);
      if (status === 'hang') return;
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const forOrder = (orderId: string) => received.filter((r) => r.body.order_id === orderId);
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/webhooks/nowpayments`,
    received,
    answer,
    forOrder,
    statuses: (orderId) => forOrder(orderId).map((r) => String(r.body.payment_status)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}

export interface SandboxHarness {
  sandbox: NowPaymentsSandbox;
  client: NowPaymentsClient;
  url: string;
  stop(): Promise<void>;
}

export async function startSandbox(
  options: Partial<NowPaymentsSandboxOptions> = {},
): Promise<SandboxHarness> {
  const sandbox = createNowPaymentsSandbox({
    apiKey: API_KEY,
    ipnSecret: IPN_SECRET,
    stepMs: 5,
    ...options,
  });
  const { url } = await sandbox.start(0);
  const client = new NowPaymentsClient({ apiUrl: url, apiKey: API_KEY, timeoutMs: 2_000 });
  return { sandbox, client, url, stop: () => sandbox.stop() };
}

/** A payment to create, with a fresh order id; override what the test is about. */
export function paymentInput(
  ipnCallbackUrl: string,
  overrides: Partial<CreatePaymentInput> = {},
): CreatePaymentInput {
  return {
    orderId: `pay_${randomUUID()}`,
    priceAmount: 49,
    priceCurrency: 'usd',
    payCurrency: 'btc',
    ipnCallbackUrl,
    orderDescription: 'Starter plan',
    ...overrides,
  };
}
