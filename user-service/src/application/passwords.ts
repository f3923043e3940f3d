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
    /** At most this many hashes at once, a few more waiting (PASSWORD_HASH_*). */
    private readonly gate = new HashGate({ concurrency: 4, queue: 16, waitMs: 5_000 }),
  ) {}

  /** Hashes running and waiting, for the metrics. */
  get load(): { running: number; waiting: number } {
    return this.gate.load;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.gate.run(() => derive(password, salt, this.logN, this.r, this.p));
    return `$scrypt$ln=${this.logN},r=${this.r},p=${this.p}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (!parsed) return false;
    const key = await this.gate.run(() =>
      derive(password, parsed.salt, parsed.logN, parsed.r, parsed.p, parsed.key.length),
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

/** Every hashing slot is taken and the queue is full (or the wait ran out): answer 503. */
export class HashingBusyError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('password hashing is at capacity');
    this.name = 'HashingBusyError';
  }
}

/**
 * Caps concurrent scrypt work. Each hash takes 128 MiB and a libuv thread for a quarter of a
 * second or more: unbounded, a burst of sign-ups exhausts memory and the thread pool that DNS
 * and file I/O share, and every other request waits. Beyond the slots a few callers queue, for
 * a bounded time; the rest are told to come back (503 with Retry-After).
 */
export class HashGate {
  private running = 0;
  private readonly waiting: { admit: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(private readonly limits: { concurrency: number; queue: number; waitMs: number }) {}

  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.limits.concurrency) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.limits.queue)
      return Promise.reject(new HashingBusyError(this.retryAfter()));
    return new Promise((resolve, reject) => {
      const entry = {
        // The slot is handed over by release(): `running` stays counted.
        admit: () => {
          clearTimeout(entry.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(entry);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(new HashingBusyError(this.retryAfter()));
        }, this.limits.waitMs),
      };
      this.waiting.push(entry);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.admit();
    else this.running -= 1;
  }

  private retryAfter(): number {
    return Math.max(1, Math.ceil(this.limits.waitMs / 1000));
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
