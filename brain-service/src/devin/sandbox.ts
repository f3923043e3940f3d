import express from 'express';
import { type Logger, type RunningServer, startHttpServer } from '@meetmatt/infra';
import { CallLog, type RecordedCall } from './sandbox-calls';
import { controlRouter } from './sandbox-control-routes';
import { type FaultPlan, SandboxFaults } from './sandbox-faults';
import { errorHandler, notFound, recordCalls } from './sandbox-http';
import { type StatusChange } from './sandbox-session';
import { SandboxSessions } from './sandbox-store';
import { devinV1Router } from './sandbox-v1-routes';
import { type SandboxSessionView, toView } from './sandbox-wire';

export interface DevinSandboxOptions {
  /** The key clients must send as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** Sandbox time per scenario step: the speed factor (a few ms in tests, seconds in demos). */
  stepMs: number;
  logger?: Logger;
  /** Retry-After sent with a 429 when none was asked for (default 1; tests use 0). */
  retryAfterSeconds?: number;
  /** The sandbox clock (default `Date.now`); tests may drive it by hand. */
  now?: () => number;
}

export interface DevinSandbox {
  /** Port 0 picks a free port; the URL is what a `DevinClient` takes as `apiUrl`. */
  start(port?: number, host?: string): Promise<{ url: string; port: number }>;
  stop(): Promise<void>;
  /** The base URL once started. */
  readonly url: string;
  calls(): RecordedCall[];
  sessions(): SandboxSessionView[];
  session(sessionId: string): SandboxSessionView | undefined;
  forceStatus(sessionId: string, change: StatusChange): SandboxSessionView;
  failNext(plan: FaultPlan): void;
  /** Forgets sessions, calls and planned faults. */
  reset(): void;
}

/**
 * Our imitation of Devin's API (see `sandbox-scenarios.ts` for what sessions do). Sessions
 * live in memory and move on a lazy clock, so the sandbox runs no timers of its own.
 */
export function createDevinSandbox(options: DevinSandboxOptions): DevinSandbox {
  const now = options.now ?? Date.now;
  const sessions = new SandboxSessions(options.stepMs, now);
  const faults = new SandboxFaults(options.retryAfterSeconds ?? 1);
  const calls = new CallLog();
  const app = buildApp({ ...options, sessions, faults, calls });
  let server: RunningServer | undefined;

  const found = (sessionId: string) => {
    const session = sessions.find(sessionId);
    if (!session) throw new Error(`no sandbox session ${sessionId}`);
    return session;
  };

  return {
    async start(port = 0, host = '127.0.0.1') {
      if (server) throw new Error('the Devin sandbox is already started');
      server = await startHttpServer(app, { port, host });
      return { url: server.url, port: server.port };
    },
    async stop() {
      const running = server;
      server = undefined;
      await running?.close(1_000);
    },
    get url() {
      if (!server) throw new Error('the Devin sandbox is not started');
      return server.url;
    },
    calls: () => calls.list(),
    sessions: () => sessions.all().map(toView),
    session: (sessionId) => {
      const session = sessions.find(sessionId);
      return session ? toView(session) : undefined;
    },
    forceStatus: (sessionId, change) => {
      const session = found(sessionId);
      sessions.force(session, change);
      return toView(session);
    },
    failNext: (plan) => faults.failNext(plan),
    reset: () => {
      sessions.clear();
      faults.clear();
      calls.clear();
    },
  };
}

function buildApp(
  deps: DevinSandboxOptions & { sessions: SandboxSessions; faults: SandboxFaults; calls: CallLog },
): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const ok: express.RequestHandler = (_req, res) => {
    res.json({ status: 'ok' });
  };
  app.get('/healthz', ok);
  app.get('/readyz', ok);
  app.use('/v1', recordCalls(deps.calls, deps.logger), devinV1Router(deps));
  app.use('/sandbox', controlRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
