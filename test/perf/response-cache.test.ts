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

  it('when a key is asked for the first time, then it is not admitted; asked again soon, it is, once', () => {
    const cache = new ResponseCache<{ bytes: number }>(100);
    expect(cache.admits('box')).toBe(false);
    cache.notKept('box', 60);
    expect(cache.admits('box')).toBe(true);
    expect(cache.admits('box')).toBe(false);
  });

  it('when four caches worth of other bodies were served unkept since, then a key asked again is a first request again; two caches worth, it is remembered', () => {
    const cache = new ResponseCache<{ bytes: number }>(100);
    cache.notKept('early', 50);
    for (let i = 0; i < 3; i++) cache.notKept(`box${i}`, 50);
    cache.notKept('recent', 50);
    for (let i = 3; i < 8; i++) cache.notKept(`box${i}`, 50);
    // Since 'early': 450 bytes of others (more than 4 × 100); since 'recent': 250 (more than 2 × 100).
    expect(cache.admits('early')).toBe(false);
    expect(cache.admits('recent')).toBe(true);
    expect(cache.admits('box3')).toBe(true);
  });

  it('when tiny bodies are noted, then a key is remembered across at least ten thousand others and forgotten after forty thousand', () => {
    const cache = new ResponseCache<{ bytes: number }>(1024 * 1024);
    cache.notKept('recent', 1);
    for (let i = 0; i < 10_000; i++) cache.notKept(`box${i}`, 1);
    expect(cache.admits('recent')).toBe(true);
    cache.notKept('early', 1);
    for (let i = 0; i < 40_000; i++) cache.notKept(`other${i}`, 1);
    expect(cache.admits('early')).toBe(false);
  });
});
