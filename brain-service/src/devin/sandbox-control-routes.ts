import express, { type Router } from 'express';
import { z } from 'zod';
import { type Logger } from '@meetmatt/infra';
import { type CallLog } from './sandbox-calls';
import { type SandboxFaults } from './sandbox-faults';
import { SandboxHttpError, notFound, parseOr422 } from './sandbox-http';
import { type SandboxSessions } from './sandbox-store';
import { toView } from './sandbox-wire';

export interface ControlDeps {
  sessions: SandboxSessions;
  faults: SandboxFaults;
  calls: CallLog;
  logger?: Logger;
}

const StatusChangeSchema = z
  .object({
    status_enum: z.string().min(1).nullable().optional(),
    status: z.string().min(1).optional(),
  })
  .refine((c) => c.status_enum !== undefined || c.status !== undefined, {
    message: 'give status_enum, status or both',
  });

const FaultPlanSchema = z.object({
  count: z.number().int().min(1).max(100_000),
  status: z
    .number()
    .int()
    .refine((s) => s === 429 || (s >= 500 && s <= 599), { message: 'expected 429 or a 5xx' })
    .default(500),
  retry_after_seconds: z.number().int().min(0).optional(),
  detail: z.string().min(1).optional(),
});

/**
 * The sandbox's own API, under /sandbox (never /v1), for tests and demos: what was called,
 * the sessions with their scenarios, a session forced to a status, the next calls failed.
 */
export function controlRouter(deps: ControlDeps): Router {
  const { sessions, faults, calls, logger } = deps;
  const router = express.Router();
  router.use(express.json({ limit: '100kb' }));

  router.get('/calls', (_req, res) => {
    res.json({ calls: calls.list() });
  });
  router.delete('/calls', (_req, res) => {
    calls.clear();
    res.status(204).end();
  });

  router.get('/sessions', (_req, res) => {
    res.json({ sessions: sessions.all().map(toView) });
  });
  router.get('/sessions/:id', (req, res) => {
    const session = sessions.find(req.params.id);
    if (!session) throw new SandboxHttpError(404, `Session ${req.params.id} not found`);
    res.json(toView(session));
  });
  router.post('/sessions/:id/status', (req, res) => {
    const change = parseOr422(StatusChangeSchema, req.body, 'body');
    const session = sessions.find(req.params.id);
    if (!session) throw new SandboxHttpError(404, `Session ${req.params.id} not found`);
    sessions.force(session, change);
    logger?.info('devin sandbox status forced', { sessionId: session.session_id, ...change });
    res.json(toView(session));
  });

  router.post('/faults', (req, res) => {
    const plan = parseOr422(FaultPlanSchema, req.body, 'body');
    faults.failNext({
      count: plan.count,
      status: plan.status,
      ...(plan.retry_after_seconds === undefined
        ? {}
        : { retryAfterSeconds: plan.retry_after_seconds }),
      ...(plan.detail === undefined ? {} : { detail: plan.detail }),
    });
    logger?.info('devin sandbox faults planned', { count: plan.count, status: plan.status });
    res.json({ pending: faults.pending() });
  });
  router.delete('/faults', (_req, res) => {
    faults.clear();
    res.status(204).end();
  });

  router.post('/reset', (_req, res) => {
    sessions.clear();
    faults.clear();
    calls.clear();
    res.status(204).end();
  });

  router.use(notFound);
  return router;
}
