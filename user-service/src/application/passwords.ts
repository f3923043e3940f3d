import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashing with scrypt (argon2id needs a native package; scrypt is in Node's crypto).
 * OWASP's parameters: N=2^17, r=8, p=1, which needs 128 MiB per hash. Hashes are stored as
 * `$scrypt$ln=17,r=8,p=1$<salt>$<key>` (base64), so a later change of cost still verifies old
 * hashes, and `needsRehash` tells the login to upgrade them.
 */
export class PasswordHasher {
  private dummy: string | undefined;

  constructor(
    private readonly logN: number,
    private readonly r = 8,
    private readonly p = 1,
  ) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await derive(password, salt, this.logN, this.r, this.p);
    return `$scrypt$ln=${this.logN},r=${this.r},p=${this.p}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (!parsed) return false;
    const key = await derive(
      password,
      parsed.salt,
      parsed.logN,
      parsed.r,
      parsed.p,
      parsed.key.length,
    );
    return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  }

  /**
   * Spends the time a real verification takes and answers false: the login of an unknown email
   * must not be faster than a wrong password.
   */
  async verifyDummy(password: string): Promise<false> {
    // Random salt and key in the stored format: verifying costs what a real one does, and no
    // hash has to be computed first (which would make the first unknown email slower).
    this.dummy ??= `$scrypt$ln=${this.logN},r=${this.r},p=${this.p}$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`;
    await this.verify(password, this.dummy);
    return false;
  }

  needsRehash(stored: string): boolean {
    const parsed = parse(stored);
    return !parsed || parsed.logN !== this.logN || parsed.r !== this.r || parsed.p !== this.p;
  }
}

const FORMAT =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

function parse(stored: string) {
  const match = FORMAT.exec(stored);
  if (!match) return undefined;
  return {
    logN: Number(match[1]),
    r: Number(match[2]),
    p: Number(match[3]),
    salt: Buffer.from(match[4]!, 'base64'),
    key: Buffer.from(match[5]!, 'base64'),
  };
}

function derive(
  password: string,
  salt: Buffer,
  logN: number,
  r: number,
  p: number,
  keyLength = 32,
): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    // scrypt needs 128·N·r bytes; Node's default ceiling (32 MiB) is below OWASP's cost.
    scrypt(
      password.normalize('NFC'),
      salt,
      keyLength,
      { N, r, p, maxmem: 256 * N * r },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}
