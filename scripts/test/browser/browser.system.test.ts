import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { type TestSystem, startSystem } from '../support/spawned-system';

/**
 * Issue 19's "done when": a real browser (Debian's headless Chromium, driven by Playwright) on a
 * page served from the Vite dev server's origin signs up, pays through the NOWPayments sandbox,
 * receives the notifications live through EventSource and downloads the invoice, all through
 * the gateway, cross-origin, with the CORS `npm start` configures by default.
 */
const DEV_ORIGIN = 'http://localhost:5173';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const pageDir = path.join(__dirname, 'page');
const clientEntry = path.resolve(__dirname, '..', '..', '..', 'client', 'src', 'index.ts');

/** @meetmatt/client for a browser page: one script defining the global `MeetMatt`. */
async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [clientEntry],
    bundle: true,
    format: 'iife',
    globalName: 'MeetMatt',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

interface Results {
  steps: Record<string, Record<string, unknown>>;
  notifications: { id: string; kind: string; eventId: string }[];
  error?: string;
}

/** The page's static files on localhost:5173, as a dev server would serve them. */
async function serveDevOrigin(
  clientJs: string,
): Promise<{ requests: string[]; close(): Promise<void> }> {
  const types: Record<string, string> = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
  };
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', DEV_ORIGIN).pathname;
    requests.push(pathname);
    if (pathname === '/client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(clientJs);
      return;
    }
    const name = pathname === '/' ? 'index.html' : path.basename(pathname);
    const type = types[path.extname(name)];
    if (!type) {
      res.writeHead(404).end();
      return;
    }
    readFile(path.join(pageDir, name)).then(
      (body) => res.writeHead(200, { 'content-type': type }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error) =>
      reject(new Error(`${DEV_ORIGIN} is needed for the page and is taken: ${error.message}`)),
    );
    // localhost: Chromium tries ::1 and 127.0.0.1; one listener on each would need two servers.
    server.listen(5173, '127.0.0.1', resolve);
  });
  return {
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('a real browser on the Vite dev origin, through the gateway', () => {
  let system: TestSystem;
  let devOrigin: Awaited<ReturnType<typeof serveDevOrigin>>;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    // A fresh profile per run, so nothing (cache, storage) carries over from another.
    profile = await mkdtemp(path.join(os.tmpdir(), 'mm-chromium-'));
    devOrigin = await serveDevOrigin(await bundleClient());
    const [started, launched] = await Promise.allSettled([
      startSystem(),
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      }),
    ]);
    // Whichever started is stopped by afterAll, even when the other did not.
    if (started.status === 'fulfilled') system = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (started.status === 'rejected') throw started.reason;
    if (launched.status === 'rejected') throw launched.reason;
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => consoleLines.push(`pageerror: ${error.message}`));
    await page.goto(`${DEV_ORIGIN}/?api=${encodeURIComponent(system.gatewayUrl)}`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await devOrigin?.close();
    await system?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  }, 40_000);

  /** Waits for the page to record `name` (or fail), and gives what it recorded. */
  async function step(name: string, timeout = 20_000): Promise<Record<string, unknown>> {
    try {
      await page.waitForFunction(
        (n) => {
          const r = (globalThis as unknown as { results?: Results }).results;
          return r !== undefined && (n in r.steps || r.error !== undefined);
        },
        name,
        { timeout, polling: 50 },
      );
    } catch (error) {
      throw new Error(
        `the page did not record "${name}" in ${timeout} ms: ${(error as Error).message}\n${await pageState()}`,
      );
    }
    const results = await page.evaluate(
      () => (globalThis as unknown as { results: Results }).results,
    );
    if (!(name in results.steps))
      throw new Error(`the page failed before "${name}"\n${await pageState()}`);
    return results.steps[name]!;
  }

  async function pageState(): Promise<string> {
    const results = await page
      .evaluate(() => (globalThis as unknown as { results?: Results }).results)
      .catch(() => undefined);
    return `results: ${JSON.stringify(results)}\nconsole:\n${consoleLines.join('\n')}\n${system.output().slice(-2000)}`;
  }

  test('when the page loads, then it comes from the dev origin and talks to the gateway on another', async () => {
    expect(new URL(page.url()).origin).toBe(DEV_ORIGIN);
    expect(new URL(system.gatewayUrl).origin).not.toBe(DEV_ORIGIN);
    expect(devOrigin.requests).toEqual(expect.arrayContaining(['/', '/client.js', '/app.js']));
  });

  test('when it signs up and signs in with the typed client, then both pass CORS', async () => {
    const signUp = await step('signUp');
    expect(signUp).toEqual({ userId: expect.any(String), email: expect.any(String) });
    expect(await step('signIn')).toMatchObject({
      userId: signUp.userId,
      token: expect.any(String),
    });
  });

  test('when a sign-in is refused, then the client throws a ProblemError and can read its X-Request-Id', async () => {
    expect(await step('refused')).toEqual({
      name: 'ProblemError',
      status: 401,
      problemStatus: 401,
      requestId: expect.any(String),
      title: expect.any(String),
    });
  });

  test('when it opens the notification stream with a ticket, then EventSource connects without Authorization', async () => {
    const ticket = await step('ticket');
    expect(ticket).toEqual({ url: expect.stringMatching(/^\/notifications\/stream\?ticket=/) });
    // EventSource.OPEN
    expect(await step('streamOpen')).toEqual({ readyState: 1 });
  });

  test('when it buys an agent, then the payment is opened with an address to pay in BTC', async () => {
    const payment = await step('payment');
    expect(payment).toEqual({
      id: expect.any(String),
      payAddress: expect.any(String),
      payCurrency: 'btc',
    });
  });

  test('when the sandbox finishes the payment and Devin deploys, then both notifications arrive live on the stream', async () => {
    const live = await step('live', 40_000);
    expect(live.kinds).toEqual(expect.arrayContaining(['payment.confirmed', 'agent.deployed']));
    // What the stream pushed is what the user's notification list holds, event id for id.
    const { token, userId } = await step('signIn');
    const res = await fetch(`${system.gatewayUrl}/users/${String(userId)}/notifications`, {
      headers: { authorization: `Bearer ${String(token)}` },
    });
    expect(res.status).toBe(200);
    const listed = ((await res.json()) as { notifications: { id: string; kind: string }[] })
      .notifications;
    const pushed = await page.evaluate(
      () => (globalThis as unknown as { results: Results }).results.notifications,
    );
    for (const kind of ['payment.confirmed', 'agent.deployed']) {
      const streamed = pushed.find((n) => n.kind === kind)!;
      expect(streamed.eventId).toBe(streamed.id);
      expect(listed.find((n) => n.kind === kind)?.id).toBe(streamed.id);
    }
  });

  test('when the invoice is issued, then the page reads it and downloads its PDF', async () => {
    const invoice = await step('invoice', 20_000);
    expect(invoice).toEqual({ number: expect.stringMatching(/^MM-\d{4}-\d{6}$/) });
    const pdf = await step('pdf');
    expect(pdf.head).toBe('%PDF-');
    expect(pdf.contentType).toMatch(/^application\/pdf/);
    expect(pdf.size).toBeGreaterThan(500);
    const results = await page.evaluate(
      () => (globalThis as unknown as { results: Results }).results,
    );
    expect(results.error).toBeUndefined();
  });
});
