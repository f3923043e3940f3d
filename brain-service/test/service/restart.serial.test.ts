import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import { agentEvents } from '@meetmatt/contracts';
import {
  type AgentDetail,
  type BrainWorld,
  confirmedPayment,
  publishConfirmed,
  sessionsOf,
  startWorld,
  whenReady,
} from '../support/harness';
import { eventually } from '@meetmatt/infra/testing';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const MAIN = path.join(repoRoot, 'brain-service/src/main.ts');

interface Child {
  process: ChildProcess;
  url: Promise<string>;
  exited: Promise<NodeJS.Signals | number | null>;
  output(): string;
}

/** The brain as a real process of its own, as `npm start` runs it. */
function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: repoRoot,
    env: { ...process.env, ...env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  const url = new Promise<string>((resolve, reject) => {
    child.on('message', (message: { type?: string; url?: string }) => {
      if (message.type === 'ready' && message.url) resolve(message.url);
    });
    void exited.then((how) => reject(new Error(`brain exited (${how}) before ready:\n${output}`)));
  });
  return { process: child, url, exited, output: () => output };
}

/**
 * The brain process is SIGKILLed in the middle of a build: no shutdown, no cleanup, its leader
 * locks dropped with its connections. A new process must find the build in the event store
 * and read model, resume tracking the same Devin session (no second one), and finish it.
 * Serial because it kills a process.
 */
describe('a brain killed mid-build', () => {
  let world: BrainWorld;
  const children: Child[] = [];

  beforeAll(async () => {
    world = await startWorld({ withoutService: true, stepMs: 100 });
  });
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await world?.stop();
  });

  test('when the service is killed while Devin works, then after a restart the same session is tracked to agent.deployed', async () => {
    const first = startChild(world.env);
    children.push(first);
    const firstUrl = await first.url;
    await whenReady(firstUrl);

    const user = await world.issuer.user();
    const payment = confirmedPayment(user, {
      agent: { instructions: 'A long build [devin:finish:30]' },
    });
    const agentId = await publishConfirmed(world, payment);
    const progressed = (sessionId: string) =>
      world.bus
        .of(agentId)
        .some(
          (e) =>
            e.type === agentEvents.buildProgressed.type &&
            (e.data as { sessionId: string }).sessionId === sessionId,
        );
    const started = await world.bus.waitFor(
      'the session to start',
      (e) => e.type === agentEvents.sessionStarted.type && e.subject === `agent-${agentId}`,
    );
    const sessionId = (started.data as { sessionId: string }).sessionId;
    await eventually('the first process to be tracking', () => progressed(sessionId));
    expect(sessionsOf(world, agentId)[0]?.status_enum).toBe('working');

    first.process.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const progressBeforeRestart = world.bus
      .of(agentId)
      .filter((e) => e.type === agentEvents.buildProgressed.type).length;

    const second = startChild(world.env);
    children.push(second);
    const secondUrl = await second.url;

    const deployed = await world.bus.waitFor(
      'agent.deployed after the restart',
      (e) => e.type === agentEvents.deployed.type && e.subject === `agent-${agentId}`,
      30_000,
    );
    expect(deployed.data).toMatchObject({ agentId, sessionId, build: 1 });
    // one session, tracked by both processes in turn; the second recorded its own progress
    expect(sessionsOf(world, agentId)).toHaveLength(1);
    const creates = world.sandbox
      .calls()
      .filter((c) => c.method === 'POST' && c.path === '/v1/sessions')
      .filter((c) => JSON.stringify(c.body).includes(agentId));
    expect(creates).toHaveLength(1);
    const events = world.bus.of(agentId);
    expect(events.filter((e) => e.type === agentEvents.sessionStarted.type)).toHaveLength(1);
    expect(
      events.filter((e) => e.type === agentEvents.buildProgressed.type).length,
    ).toBeGreaterThan(progressBeforeRestart);
    expect(events.filter((e) => e.type === agentEvents.deployFailed.type)).toHaveLength(0);

    const agent = await eventually('the read model to show it deployed', async () => {
      const res = await request(secondUrl)
        .get(`/agents/${agentId}`)
        .set('Authorization', user.authorization);
      const body = res.body as AgentDetail;
      return body.status === 'deployed' && body;
    });
    expect(agent.pullRequestUrl).toMatch(/\/pull\/1$/);
    const lines = await request(secondUrl)
      .get(`/agents/${agentId}/logs`)
      .query({ limit: 500 })
      .set('Authorization', user.authorization);
    const texts = (lines.body.lines as { kind: string; text: string }[])
      .filter((l) => l.kind !== 'status')
      .map((l) => l.text);
    // every Devin message logged once, across the two processes
    expect(texts).toEqual((sessionsOf(world, agentId)[0]?.messages ?? []).map((m) => m.message));
  });
});
