import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createDatabase } from '@meetmatt/infra';
import request from 'supertest';
import { eventually } from '@meetmatt/infra/testing';
import { type BrainWorld, startWorld } from '../support/harness';

/**
 * journey_deploy_pending_seconds: a payment the brain recorded as confirmed for automatic
 * deploy, with no deploy requested (no agent), shows with its age since confirmation; one a user
 * deploys by hand (auto_deploy false) does not.
 */
describe('the journey gauges', () => {
  let world: BrainWorld;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(() => world?.stop());

  test('when a confirmed payment has waited 90 s with no deploy requested, then journey_deploys_pending is 1 and journey_deploy_pending_seconds at least 90', async () => {
    const database = createDatabase({ url: world.database.url, max: 1 });
    try {
      for (const autoDeploy of [true, false])
        await sql`INSERT INTO payments (payment_id, user_id, status, plan, auto_deploy, confirmed_at)
          VALUES (${randomUUID()}, ${randomUUID()}, 'confirmed', 'starter', ${autoDeploy},
                  now() - interval '90 seconds')`.execute(database.db);
    } finally {
      await database.close();
    }
    const sample = (text: string, name: string) =>
      Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
    await eventually('the gauges to show the waiting payment', async () => {
      const text = (await request(world.service.url).get('/metrics')).text;
      expect(sample(text, 'journey_deploys_pending')).toBe(1);
      expect(sample(text, 'journey_deploy_pending_seconds')).toBeGreaterThanOrEqual(90);
      expect(sample(text, 'journey_deploy_pending_seconds')).toBeLessThan(200);
    });
  });
});
