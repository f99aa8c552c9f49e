import fc from 'fast-check';
import type { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalPath, loggablePath } from '../../src/routes.js';
import { addSubscriber, applySql } from '../core/support.js';
import { startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { rawGet } from './raw-http.js';

const GUESS_LIMIT = 20;
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

describe('one spelling of a path', () => {
  it('when a path is spelled oddly, then canonicalPath gives the one spelling the routers match', () => {
    expect(canonicalPath('/PLAYLIST/Key.m3u')).toBe('/playlist/Key.m3u');
    expect(canonicalPath('//playlist//Key.m3u/')).toBe('/playlist/Key.m3u');
    expect(canonicalPath('/%70laylist/%4Bey.m3u')).toBe('/playlist/Key.m3u');
    expect(canonicalPath('/x/../Play/./Key/%2e%2E/Key/1.m3u8')).toBe('/play/Key/1.m3u8');
    expect(canonicalPath('/%%37%30laylist/Key.m3u')).toBe('/playlist/Key.m3u');
    expect(canonicalPath('/playlist%2FKey.m3u')).toBe('/playlist%2FKey.m3u');
    expect(canonicalPath('/HEALTHZ')).toBe('/healthz');
    expect(canonicalPath('/')).toBe('/');
  });

  it('when the canonical spelling is given, then it comes back as it is', () => {
    for (const path of ['/playlist/AbCdEfGhIjKlMnOpQrStUv_-.m3u', '/play/AbC/1/timeshift_abs-1700000000.ts', '/epg.xml', '/Other/Case']) {
      expect(canonicalPath(path)).toBe(path);
    }
  });

  it('when a key hides behind an encoded slash, a stray prefix or an odd letter, then loggablePath still drops it', () => {
    const key = 'AbCdEfGhIjKlMnOpQrStUv_-';
    for (const path of [
      `/playlist%2F${key}.m3u`,
      `/x/playlist/${key}.m3u`,
      `/PLAYL%C4%B0ST/${key}.m3u`,
      `/%2570laylist/${key}.m3u`,
      `/${key}`,
      `/p/${key.slice(0, 12)}%${key.slice(12)}`,
    ]) {
      expect(loggablePath(path), path).not.toContain(key.slice(0, 12));
    }
    expect(loggablePath('/play/K/1.m3u8')).toBe('/play/[key]/1.m3u8');
  });

  it('when an XC password hides behind encoded slashes, odd case or doubled slashes, then loggablePath still drops it', () => {
    // XC passwords are 10 characters by default: shorter than a key, so length alone does not catch them.
    const password = 'k7m2p9x4qa';
    for (const path of [
      `/live/alice/${password}/1.ts`,
      `/LIVE//alice//${password}/1.m3u8/`,
      `/live%2Falice%2F${password}/1.ts`,
      `/live%252Falice%252F${password}%252F1.ts`,
      `/%6Cive/alice/${password}/1.ts`,
      `/timeshift%2Falice%2F${password}/60/2026-12-03:10-00/1.ts`,
      `/alice/${password}/1.ts`,
      `/alice%2F${password}%2F1.ts`,
      `//alice//${password}//1`,
    ]) {
      expect(loggablePath(path), path).not.toContain(password);
    }
    expect(loggablePath(`/live%2Falice%2F${password}/1.ts`)).toBe('/live/alice/[password]/1.ts');
    expect(loggablePath('/healthz')).toBe('/healthz');
  });
});

const counterValue = async (counter: Counter<string>, outcome?: string) =>
  (await counter.get()).values
    .filter((entry) => outcome === undefined || entry.labels.outcome === outcome)
    .reduce((sum, entry) => sum + entry.value, 0);

describe('spellings against the real server', () => {
  let lineup: TestLineup;
  let aliceKey: string;
  let nextAddress = 1;
  /** A fresh client address per request, through X-Forwarded-For from the trusted loopback. */
  const freshAddress = () => {
    const n = nextAddress++;
    return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  };
  const get = (target: string, address: string) => rawGet(lineup.url, target, [`X-Forwarded-For: ${address}`]);
  const unknownKey = (seed: number) => `Q${String(seed).padStart(23, 'x')}`;

  beforeAll(async () => {
    lineup = await startTestLineup({ env: { GUESS_LIMIT: String(GUESS_LIMIT), GUESS_BLOCK: '900', TRUST_PROXY: '127.0.0.1' } });
    await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1);");
    aliceKey = /\/playlist\/([^/.]+)\.m3u/.exec(await addSubscriber(lineup, 'alice'))![1]!;
  });
  afterAll(() => lineup.close());

  it('when 25 unknown keys come through /PLAYLIST/ from one address, then it gets 429 once past GUESS_LIMIT', async () => {
    const address = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await get(`/PLAYLIST/${unknownKey(i)}.m3u`, address)).status);
    expect(statuses.slice(0, GUESS_LIMIT + 1)).toEqual(Array(GUESS_LIMIT + 1).fill(404));
    expect(statuses.slice(GUESS_LIMIT + 1)).toEqual(Array(25 - GUESS_LIMIT - 1).fill(429));
  });

  it('when an address is blocked, then no spelling of a valid key gets through', async () => {
    const address = freshAddress();
    for (let i = 0; i <= GUESS_LIMIT; i++) await get(`/playlist/${unknownKey(i)}.m3u`, address);
    for (const target of [
      `/PLAYLIST/${aliceKey}.m3u`,
      `/Playlist/${aliceKey}.m3u`,
      `//playlist/${aliceKey}.m3u`,
      `/playlist//${aliceKey}.m3u`,
      `/%70laylist/${aliceKey}.m3u`,
      `/PLAY/${aliceKey}/1.m3u8`,
    ]) {
      expect((await get(target, address)).status, target).toBe(429);
    }
    expect((await get(`/playlist/${aliceKey}.m3u`, freshAddress())).status).toBe(200);
  });

  it('when upper-case and double-slash paths are served, then the metrics count them and the log holds no key', async () => {
    const playlists = await counterValue(lineup.metrics.playlistRequests, '200');
    const plays = await counterValue(lineup.metrics.playRequests, '302');
    const from = lineup.logs.lines.length;
    for (const target of [
      `/PLAYLIST/${aliceKey}.m3u`,
      `//playlist/${aliceKey}.m3u`,
      `/playlist//${aliceKey}.m3u`,
      `/%70laylist/${aliceKey}.m3u`,
    ]) {
      expect((await get(target, freshAddress())).status, target).toBe(200);
    }
    expect((await get(`//Play//${aliceKey}/1.m3u8`, freshAddress())).status).toBe(302);
    expect(await counterValue(lineup.metrics.playlistRequests, '200')).toBe(playlists + 4);
    expect(await counterValue(lineup.metrics.playRequests, '302')).toBe(plays + 1);
    const logged = lineup.logs.lines.slice(from).join('\n');
    expect(logged).toContain('"path":"/playlist/[key]"');
    expect(logged).not.toContain(aliceKey);
  });

  it('when the playlist and /play paths are spelled every which way, then each spelling is refused or counted, and never logged with its key', async () => {
    const fixedLetter = fc.constantFrom('same', 'upper', 'encoded', 'ENCODED');
    const keyLetter = fc.constantFrom('same', 'same', 'same', 'encoded');
    const leading = fc.constantFrom('/', '/', '/', '//', '///', '/./', '/x/../', '/%2e/', '/X/%2E%2e/');
    const separator = fc.oneof(leading, fc.constantFrom('%2F', '%2f'));
    const spelling = fc.record({
      play: fc.boolean(),
      fixed: fc.array(fixedLetter, { minLength: 8, maxLength: 8 }),
      key: fc.array(keyLetter, { minLength: 24, maxLength: 24 }),
      separators: fc.tuple(leading, separator, separator),
      trailing: fc.constantFrom('', '', '/', '//', '/.', '/./'),
      extension: fc.constantFrom('.m3u', '.m3u8', '.M3U'),
      unknown: fc.array(fc.constantFrom(...KEY_ALPHABET), { minLength: 24, maxLength: 24 }).map((letters) => letters.join('')),
    });
    type Spelling = typeof spelling extends fc.Arbitrary<infer T> ? T : never;
    const encode = (letter: string, upper: boolean) => {
      const hex = letter.charCodeAt(0).toString(16);
      return `%${upper ? hex.toUpperCase() : hex}`;
    };
    const spell = (s: Spelling, key: string): string => {
      const word = s.play ? 'play' : 'playlist';
      const fixed = [...word]
        .map((letter, i) => {
          const how = s.fixed[i];
          return how === 'upper'
            ? letter.toUpperCase()
            : how === 'encoded'
              ? encode(letter, false)
              : how === 'ENCODED'
                ? encode(letter, true)
                : letter;
        })
        .join('');
      const spelledKey = [...key].map((letter, i) => (s.key[i] === 'encoded' ? encode(letter, i % 2 === 0) : letter)).join('');
      const [first, second, third] = s.separators;
      const tail = s.play ? `${spelledKey}${third}1.m3u8` : `${spelledKey}${s.extension}`;
      return `${first}${fixed}${second}${tail}${s.trailing}`;
    };

    const blocked = freshAddress();
    for (let i = 0; i <= GUESS_LIMIT; i++) await get(`/playlist/${unknownKey(i)}.m3u`, blocked);
    let served = 0;
    let refused = 0;

    await fc.assert(
      fc.asyncProperty(spelling, async (s) => {
        const served2xx = s.play ? 302 : 200;
        const requests = s.play ? lineup.metrics.playRequests : lineup.metrics.playlistRequests;
        const from = lineup.logs.lines.length;
        const failures = await counterValue(lineup.metrics.lookupFailures);
        const counted = await counterValue(requests);

        const guessed = await get(spell(s, s.unknown), freshAddress());
        const guessCounted = (await counterValue(lineup.metrics.lookupFailures)) === failures + 1;
        const real = await get(spell(s, aliceKey), freshAddress());

        expect(guessed.status).toBe(404);
        if (real.status === served2xx) {
          // A spelling that can serve a key is one whose guesses the limiter counts.
          served++;
          expect(guessCounted).toBe(true);
          expect(await counterValue(requests)).toBe(counted + 2);
        } else {
          // Otherwise it is refused before any lookup, or its key is taken as unknown and counted.
          refused++;
          expect(real.status).toBe(404);
          if (!guessCounted) expect(await counterValue(lineup.metrics.lookupFailures)).toBe(failures);
        }
        expect((await get(spell(s, aliceKey), blocked)).status).not.toBe(served2xx);

        const logged = lineup.logs.lines.slice(from).join('\n');
        expect(logged).not.toContain(aliceKey);
        expect(logged).not.toContain(s.unknown);
      }),
      { numRuns: 200 },
    );
    // Both kinds of spelling were met, so neither half of the property held vacuously.
    expect(served).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  });
});
