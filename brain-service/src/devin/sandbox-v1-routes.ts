import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { CreateSessionRequestSchema, SendMessageRequestSchema } from './api-schemas';
import { type SandboxFaults } from './sandbox-faults';
import { SandboxHttpError, bearerAuth, notFound, parseOr422 } from './sandbox-http';
import { ScenarioError } from './sandbox-scenarios';
import { type SandboxSession } from './sandbox-session';
import { type SandboxSessions } from './sandbox-store';
import { toSummary, toWire } from './sandbox-wire';

export interface V1Deps {
  apiKey: string;
  sessions: SandboxSessions;
  faults: SandboxFaults;
}

const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
  tags: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
});

/** Devin API v1 as `shared/EXTERNAL-APIS.md` describes it: auth, then planned faults, then work. */
export function devinV1Router(deps: V1Deps): Router {
  const { sessions, faults } = deps;
  const router = express.Router();
  router.use(bearerAuth(deps.apiKey));
  // Parsed before a planned fault answers, so the call log shows what each failed call carried.
  router.use(express.json({ limit: '1mb' }));
  router.use((_req, _res, next) => {
    const fault = faults.take();
    if (fault) throw SandboxHttpError.fromFault(fault);
    next();
  });

  router.post('/sessions', (req, res) => {
    const input = parseOr422(CreateSessionRequestSchema, req.body, 'body');
    const { session, isNew } = createOr422(sessions, input);
    res.json({
      session_id: session.session_id,
      url: session.url,
      ...(input.idempotent === true ? { is_new_session: isNew } : {}),
    });
  });

  router.get('/sessions', (req, res) => {
    const query = parseOr422(ListQuerySchema, req.query, 'query');
    res.json({ sessions: sessions.list(query).map(toSummary) });
  });

  router.get('/sessions/:id', (req, res) => {
    res.json(toWire(sessionFor(req, deps)));
  });

  router.post('/sessions/:id/message', (req, res) => {
    const session = sessionFor(req, deps);
    const { message } = parseOr422(SendMessageRequestSchema, req.body, 'body');
    const delivery = sessions.message(session, message);
    res.json(delivery.delivered ? null : { detail: delivery.detail });
  });

  router.delete('/sessions/:id', (req, res) => {
    const session = sessionFor(req, deps);
    if (!sessions.terminate(session)) {
      throw new SandboxHttpError(400, `Session ${session.session_id} has already exited`);
    }
    res.json({ detail: 'Session terminated' });
  });

  router.use(notFound);
  return router;
}

function createOr422(
  sessions: SandboxSessions,
  input: z.output<typeof CreateSessionRequestSchema>,
): { session: SandboxSession; isNew: boolean } {
  try {
    return sessions.create(input);
  } catch (error) {
    if (!(error instanceof ScenarioError)) throw error;
    throw new SandboxHttpError(422, [
      { type: 'value_error', loc: ['body', 'prompt'], msg: error.message },
    ]);
  }
}

/** The session named in the path, after its own `[devin:flaky]`/`[devin:throttle]` faults. */
function sessionFor(req: Request, deps: V1Deps): SandboxSession {
  const id = String(req.params.id);
  const session = deps.sessions.find(id);
  if (!session) throw new SandboxHttpError(404, `Session ${id} not found`);
  const planned = session.scenario.faults;
  if (planned && session.faultsLeft > 0) {
    session.faultsLeft -= 1;
    throw SandboxHttpError.fromFault(deps.faults.build(planned.status));
  }
  return session;
}
