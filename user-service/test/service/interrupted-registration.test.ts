import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { reserveEmail } from '../../src/application/accounts';
import { type UserWorld, startWorld, strongPassword, uniqueEmail } from '../support/world';

/**
 * A registration whose process is killed between reserving the address and recording the user
 * leaves exactly this behind: the credentials row and the reservation, no user stream.
 */
async function interruptedRegistration(world: UserWorld, email: string, password: string) {
  const { context } = world.service;
  const userId = randomUUID();
  await context.db
    .insertInto('credentials')
    .values({ user_id: userId, password_hash: await context.passwords.hash(password) })
    .execute();
  const reserved = await reserveEmail(context, email, userId);
  if (!reserved.ok) throw new Error(reserved.error.message);
  return userId;
}

describe('a registration cut off half-way', () => {
  let world: UserWorld;

  beforeAll(async () => {
    world = await startWorld('user_interrupted');
  });

  afterAll(async () => {
    await world?.stop();
  });

  test('when the client retries with the same password, then the registration is finished and the account signs in', async () => {
    const email = uniqueEmail('cut');
    const password = strongPassword();
    const userId = await interruptedRegistration(world, email, password);

    const retry = await request(world.url)
      .post('/auth/register')
      .send({ email, password, displayName: 'Cut Off' });
    expect(retry.status).toBe(201);
    expect(retry.body.user).toMatchObject({ id: userId, email, displayName: 'Cut Off' });

    const login = await request(world.url).post('/auth/login').send({ email, password });
    expect(login.status).toBe(200);
    expect(login.body.user.id).toBe(userId);
    const events = await world.service.context.store.readStream(`user-${userId}`);
    expect(events.map((e) => e.type)).toContain('user.registered');
  });

  test('when someone retries with another password, then the address stays taken and nothing is recorded', async () => {
    const email = uniqueEmail('cut');
    const userId = await interruptedRegistration(world, email, strongPassword());

    const other = await request(world.url)
      .post('/auth/register')
      .send({ email, password: strongPassword() });
    expect(other.status).toBe(409);
    expect(other.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await world.service.context.store.readStream(`user-${userId}`)).toEqual([]);
  });
});
