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

  it('when entries leave (evicted, replaced or too large to keep), then each is handed to the eviction callback once, so that its memory can be reused', () => {
    const left: string[] = [];
    const cache = new ResponseCache<{ bytes: number; name: string }>(100, (value) => left.push(value.name));
    cache.set('a', { bytes: 60, name: 'a' });
    cache.set('b', { bytes: 60, name: 'b' });
    expect(left).toEqual(['a']);
    cache.set('b', { bytes: 10, name: 'b2' });
    expect(left).toEqual(['a', 'b']);
    cache.set('huge', { bytes: 101, name: 'huge' });
    expect(left).toEqual(['a', 'b', 'huge']);
    cache.grew('b', 95);
    expect(left).toEqual(['a', 'b', 'huge', 'b2']);
    expect(cache.get('b')).toBeUndefined();
  });
});
