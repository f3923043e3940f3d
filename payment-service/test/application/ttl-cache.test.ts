import { TtlCache } from '../../src/application/ttl-cache';

describe('TtlCache', () => {
  let now: number;
  let cache: TtlCache<string>;
  beforeEach(() => {
    now = 1_000_000;
    cache = new TtlCache<string>(60_000, () => now);
  });

  test('when a key is asked within its TTL, then the kept answer is returned without loading', async () => {
    const load = jest.fn(async () => 'a');
    expect(await cache.get('k', load)).toBe('a');
    now += 59_999;
    expect(await cache.get('k', load)).toBe('a');
    expect(load).toHaveBeenCalledTimes(1);
    expect(cache.freshForSeconds('k')).toBe(0);
  });

  test('when the TTL has passed, then the next ask loads again', async () => {
    const answers = ['first', 'second'];
    const load = jest.fn(async () => answers.shift()!);
    expect(await cache.get('k', load)).toBe('first');
    expect(cache.freshForSeconds('k')).toBe(60);
    now += 60_000;
    expect(await cache.get('k', load)).toBe('second');
    expect(load).toHaveBeenCalledTimes(2);
  });

  test('when several miss at once, then they share one load (single flight)', async () => {
    let release!: (value: string) => void;
    const load = jest.fn(() => new Promise<string>((resolve) => (release = resolve)));
    const waiting = [cache.get('k', load), cache.get('k', load), cache.get('k', load)];
    release('shared');
    expect(await Promise.all(waiting)).toEqual(['shared', 'shared', 'shared']);
    expect(load).toHaveBeenCalledTimes(1);
    // another key is its own flight
    expect(await cache.get('other', async () => 'b')).toBe('b');
  });

  test('when a load fails, then every waiter gets the failure and nothing is kept: the next ask loads again', async () => {
    const failing = jest.fn(async (): Promise<string> => {
      throw new Error('provider down');
    });
    const waiting = [cache.get('k', failing), cache.get('k', failing)];
    await expect(Promise.all(waiting)).rejects.toThrow('provider down');
    expect(failing).toHaveBeenCalledTimes(1);
    expect(await cache.get('k', async () => 'recovered')).toBe('recovered');
  });
});
