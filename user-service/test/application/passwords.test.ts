import { PasswordHasher } from '../../src/application/passwords';

describe('password hashing', () => {
  test('when hashed with the production cost, then it is scrypt N=2^17, r=8, p=1, salted, and verifies', async () => {
    const hasher = new PasswordHasher(17);
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(hash).not.toContain('correct horse');
    expect(await hasher.verify('correct horse battery staple', hash)).toBe(true);
    expect(await hasher.verify('correct horse battery stapler', hash)).toBe(false);
  });

  test('when one password is hashed twice, then the salts differ', async () => {
    const hasher = new PasswordHasher(10);
    expect(await hasher.hash('same password here')).not.toBe(
      await hasher.hash('same password here'),
    );
  });

  test('when the cost changes, then old hashes still verify and are marked for rehashing', async () => {
    const old = await new PasswordHasher(10).hash('a long enough password');
    const hasher = new PasswordHasher(11);
    expect(await hasher.verify('a long enough password', old)).toBe(true);
    expect(hasher.needsRehash(old)).toBe(true);
    expect(hasher.needsRehash(await hasher.hash('a long enough password'))).toBe(false);
  });

  test('when the stored hash is not ours, then nothing verifies against it', async () => {
    const hasher = new PasswordHasher(10);
    expect(await hasher.verify('x', 'plaintext')).toBe(false);
    expect(await hasher.verifyDummy('anything')).toBe(false);
  });
});
