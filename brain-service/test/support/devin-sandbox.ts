import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type CreateSessionRequest } from '../../src/devin/api-schemas';
import { DevinClient, type DevinClientConfig } from '../../src/devin/client';
import {
  type DevinSandbox,
  type DevinSandboxOptions,
  createDevinSandbox,
} from '../../src/devin/sandbox';

export const freshKey = () => `test-devin-key-${randomBytes(8).toString('hex')}`;

/** Short retry delays, so retry tests take milliseconds. */
export const fastRetry = { maxAttempts: 4, minDelayMs: 1, maxDelayMs: 20 };

export interface SandboxHarness {
  sandbox: DevinSandbox;
  apiKey: string;
  client(overrides?: Partial<DevinClientConfig>): DevinClient;
  stop(): Promise<void>;
}

/** An in-process sandbox on port 0 and clients for it. */
export async function startSandbox(
  overrides: Partial<DevinSandboxOptions> = {},
): Promise<SandboxHarness> {
  const apiKey = overrides.apiKey ?? freshKey();
  const sandbox = createDevinSandbox({ stepMs: 5, retryAfterSeconds: 0, ...overrides, apiKey });
  const { url } = await sandbox.start(0);
  return {
    sandbox,
    apiKey,
    client: (config = {}) =>
      new DevinClient({ apiUrl: url, apiKey, timeoutMs: 2_000, retry: fastRetry, ...config }),
    stop: () => sandbox.stop(),
  };
}

/** A sandbox clock that moves only when told to. */
export class ManualClock {
  private at = Date.parse('2026-01-05T09:00:00.000Z');
  readonly now = () => this.at;
  tick(ms: number): void {
    this.at += ms;
  }
}

/** A create request with a fresh title, so tests never meet each other's sessions. */
export function sessionRequest(
  overrides: Partial<CreateSessionRequest> = {},
): CreateSessionRequest {
  const id = randomBytes(4).toString('hex');
  return {
    prompt: `Build the agent described below in https://github.com/acme/agent-${id}.`,
    title: `Agent ${id}`,
    tags: ['meetmatt', `agent:${id}`],
    max_acu_limit: 10,
    ...overrides,
  };
}

export interface StubServer {
  url: string;
  /** The requests received, in order. */
  requests: { method: string; url: string; authorization: string | undefined }[];
  stop(): Promise<void>;
}

/** A bare HTTP server for answers the sandbox never gives (silence, 204, odd bodies). */
export async function startStub(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<StubServer> {
  const requests: StubServer['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
    });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
