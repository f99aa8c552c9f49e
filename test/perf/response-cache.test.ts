import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../../src/playlist/response-cache.js';

const entry = (bytes: number) => ({ bytes });

describe('the cache of recent playlists', () => {
  it('when more bytes arrive than it may hold, then the least recently used go first and the total stays bounded', () => {
    const cache = new ResponseCache<{ bytes: number }>(100);
    cache.set('a', entry(40));
    cache.set('b', entry(40));
    expect(cache.get('a')).toBeDefined(); // a is now younger than b
    cache.set('c', entry(40));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
  });

  it('when an entry grows (its gzip form added), then the growth counts and something older makes room', () => {
    const cache = new ResponseCache<{ bytes: number }>(100);
    cache.set('old', entry(40));
    cache.set('young', entry(40));
    cache.grew('young', 30);
    expect(cache.get('old')).toBeUndefined();
    expect(cache.get('young')?.bytes).toBe(70);
  });

  it('when one entry alone is larger than the cache, then it is not kept and nothing is evicted for it', () => {
    const cache = new ResponseCache<{ bytes: number }>(100);
    cache.set('small', entry(10));
    cache.set('huge', entry(101));
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.get('small')).toBeDefined();
  });
});
