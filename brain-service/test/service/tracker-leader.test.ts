import { agentEvents } from '@meetmatt/contracts';
import { captureLogger, eventually } from '@meetmatt/infra/testing';
import { type RunningBrainService, start } from '../../src/main';
import {
  type BrainWorld,
  confirmedPayment,
  publishConfirmed,
  sessionsOf,
  startWorld,
} from '../support/harness';

/** Two instances of the brain on one database and one bus, as a scaled deployment runs them. */
describe('two brain instances', () => {
  let world: BrainWorld;
  let second: RunningBrainService;

  beforeAll(async () => {
    world = await startWorld();
    second = await start({ env: world.env, logger: captureLogger('brain-2').logger });
  });
  afterAll(async () => {
    await second?.stop();
    await world?.stop();
  });

  test('when two instances run, then one tracks the builds, and when it stops the other takes over the build in flight', async () => {
    const instances = [world.service, second];
    const leader = await eventually('one tracker leader', () => {
      const leaders = instances.filter((i) => i.tracker.isLeader);
      return (leaders.length === 1 && leaders[0]) || false;
    });
    const follower = instances.find((i) => i !== leader)!;

    const user = await world.issuer.user();
    const agentId = await publishConfirmed(
      world,
      confirmedPayment(user, { agent: { instructions: 'Takes a while [devin:finish:60]' } }),
    );
    await world.bus.waitFor(
      'the session to start',
      (e) => e.type === agentEvents.sessionStarted.type && e.subject === `agent-${agentId}`,
    );
    expect(leader.tracker.tracking).toContain(agentId);
    expect(follower.tracker.tracking).toEqual([]);

    await leader.stop();

    await world.bus.waitFor(
      'agent.deployed by the other instance',
      (e) => e.type === agentEvents.deployed.type && e.subject === `agent-${agentId}`,
      20_000,
    );
    expect(follower.tracker.isLeader).toBe(true);
    expect(sessionsOf(world, agentId)).toHaveLength(1);
    expect(world.bus.of(agentId).filter((e) => e.type === agentEvents.deployFailed.type)).toEqual(
      [],
    );
  });
});
