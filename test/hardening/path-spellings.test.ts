import fc from 'fast-check';
import type { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalPath, loggablePath } from '../../src/routes.js';
import { addSubscriber, applySql } from '../core/support.js';
import { startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addXcSubscriber } from '../xtream/support.js';
import { rawGet } from './raw-http.js';

const GUESS_LIMIT = 20;
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
/** What `subscriber add` draws XC passwords from: 10 of these. */
const XC_PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

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
      // Found by the property below: a legacy link's file in another case, and a timeshift link
      // whose encoded slashes shift the password out of the segment the plain reading cuts.
      `/alice/${password}/1.TS`,
      `/alice%2F${password}%2F1.TS`,
      `/timeshift/alice%2F${password}%2F60/2026-12-03:10-00%2F1.ts`,
      `/live/al%2Fice/${password}/1.ts`,
    ]) {
      expect(loggablePath(path), path).not.toContain(password);
    }
    expect(loggablePath(`/live%2Falice%2F${password}/1.ts`)).toBe('/live/alice/[password]/1.ts');
    expect(loggablePath('/healthz')).toBe('/healthz');
  });
});

/** A letter percent-encoded, its hex digits in lower or upper case. */
const encode = (letter: string, upper: boolean) => {
  const hex = letter.charCodeAt(0).toString(16);
  return `%${upper ? hex.toUpperCase() : hex}`;
};

/** How each letter of a fixed word (`playlist`, `live`, `get.php`) is spelled. */
const fixedLetter = fc.constantFrom('same', 'upper', 'encoded', 'ENCODED');
const spellFixed = (word: string, how: string[]) =>
  [...word]
    .map((letter, i) =>
      how[i] === 'upper'
        ? letter.toUpperCase()
        : how[i] === 'encoded'
          ? encode(letter, false)
          : how[i] === 'ENCODED'
            ? encode(letter, true)
            : letter,
    )
    .join('');

/** Every percent-escape decoded, again and again: what a reader of the log could make of a line. */
const decodedAll = (text: string) => {
  let decoded = text;
  for (let previous = ''; decoded !== previous; ) {
    previous = decoded;
    decoded = decoded.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  }
  return decoded;
};

const counterValue = async (counter: Counter<string>, outcome?: string) =>
  (await counter.get()).values
    .filter((entry) => outcome === undefined || entry.labels.outcome === outcome)
    .reduce((sum, entry) => sum + entry.value, 0);

describe('spellings against the real server', () => {
  let lineup: TestLineup;
  let aliceKey: string;
  let carolPassword: string;
  let channelId: number;
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
    // With an archive, so that /timeshift/ links are served too.
    await applySql(lineup, "INSERT INTO channels (stream, name, number, catchup_days) VALUES ('news', 'News', 1, 7);");
    aliceKey = /\/playlist\/([^/.]+)\.m3u/.exec(await addSubscriber(lineup, 'alice'))![1]!;
    ({ password: carolPassword } = await addXcSubscriber(lineup, 'carol'));
    channelId = lineup.context.db.prepare('SELECT id FROM channels').pluck().get() as number;
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
    const spell = (s: Spelling, key: string): string => {
      const word = s.play ? 'play' : 'playlist';
      const fixed = spellFixed(word, s.fixed);
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
  it('when the Xtream Codes paths are spelled every which way with a wrong password, then each spelling is refused or counted, and its password never logged', async () => {
    const kinds = ['live', 'legacy', 'timeshift', 'player_api.php', 'get.php', 'xmltv.php'] as const;
    const credentialLetter = fc.constantFrom('same', 'same', 'same', 'encoded');
    const leading = fc.constantFrom('/', '/', '/', '//', '///', '/./', '/x/../', '/%2e/', '/X/%2E%2e/');
    const separator = fc.oneof(leading, fc.constantFrom('%2F', '%2f', '%252F'));
    const spelling = fc.record({
      kind: fc.constantFrom(...kinds),
      fixed: fc.array(fixedLetter, { minLength: 14, maxLength: 14 }),
      username: fc.array(credentialLetter, { minLength: 5, maxLength: 5 }),
      password: fc.array(credentialLetter, { minLength: 10, maxLength: 10 }),
      separators: fc.array(separator, { minLength: 5, maxLength: 5 }),
      leading,
      trailing: fc.constantFrom('', '', '/', '//', '/.', '/./'),
      extension: fc.constantFrom('.ts', '.ts', '.m3u8', '', '.TS'),
      query: fc.constantFrom('?', '?', '?', '%3F', '%3f'),
      wrong: fc.array(fc.constantFrom(...XC_PASSWORD_ALPHABET), { minLength: 10, maxLength: 10 }).map((letters) => letters.join('')),
    });
    type Spelling = typeof spelling extends fc.Arbitrary<infer T> ? T : never;
    const spellCredential = (value: string, how: string[]) =>
      [...value].map((letter, i) => (how[i] === 'encoded' ? encode(letter, i % 2 === 0) : letter)).join('');
    const spell = (s: Spelling, password: string): string => {
      const username = spellCredential('carol', s.username);
      const secret = spellCredential(password, s.password);
      if (s.kind.endsWith('.php')) {
        const extra = s.kind === 'get.php' ? '&type=m3u_plus&output=ts' : '';
        return `${s.leading}${spellFixed(s.kind, s.fixed)}${s.trailing}${s.query}username=${username}&password=${secret}${extra}`;
      }
      const segments =
        s.kind === 'legacy'
          ? [username, secret, `${channelId}${s.extension === '.m3u8' ? '' : s.extension}`]
          : s.kind === 'live'
            ? [spellFixed('live', s.fixed), username, secret, `${channelId}${s.extension}`]
            : [spellFixed('timeshift', s.fixed), username, secret, '60', '2026-12-03:10-00', `${channelId}.ts`];
      return `${s.leading}${segments.map((segment, i) => (i === 0 ? segment : `${s.separators[i - 1]}${segment}`)).join('')}${s.trailing}`;
    };
    const servedStatus = (s: Spelling) => (s.kind.endsWith('.php') ? 200 : 302);

    // The plain spelling of each kind is served: the property below is not about links that never work.
    for (const kind of kinds) {
      const plain: Spelling = {
        kind,
        fixed: Array(14).fill('same'),
        username: Array(5).fill('same'),
        password: Array(10).fill('same'),
        separators: Array(5).fill('/'),
        leading: '/',
        trailing: '',
        extension: '.ts',
        query: '?',
        wrong: '',
      };
      expect((await get(spell(plain, carolPassword), freshAddress())).status, kind).toBe(servedStatus(plain));
    }

    const blocked = freshAddress();
    // Different wrong passwords: the same one again within seconds is a client's retry, counted once.
    for (let i = 0; i <= GUESS_LIMIT; i++) await get(`/live/carol/guess${String(i).padStart(5, '0')}/${channelId}.ts`, blocked);
    expect((await get(`/live/carol/${carolPassword}/${channelId}.ts`, blocked)).status).toBe(429);
    let served = 0;
    let refused = 0;

    await fc.assert(
      fc.asyncProperty(spelling, async (s) => {
        fc.pre(s.wrong !== carolPassword);
        const from = lineup.logs.lines.length;
        const failures = await counterValue(lineup.metrics.lookupFailures);

        const guessed = await get(spell(s, s.wrong), freshAddress());
        const guessCounted = (await counterValue(lineup.metrics.lookupFailures)) === failures + 1;
        const real = await get(spell(s, carolPassword), freshAddress());

        // A wrong password is never let in, and a refusal that says "wrong login" was counted.
        expect(guessed.status).not.toBe(servedStatus(s));
        if (guessed.status === 401) expect(guessCounted).toBe(true);
        if (real.status === servedStatus(s)) {
          // A spelling that can serve a login is one whose wrong logins the limiter counts.
          served++;
          expect(guessCounted).toBe(true);
        } else {
          // Otherwise it is refused before any lookup (404), or its login is taken as wrong and counted.
          refused++;
          expect([401, 404], `${spell(s, carolPassword)}: ${real.status}`).toContain(real.status);
          if (!guessCounted) expect(guessed.status).toBe(404);
        }
        expect((await get(spell(s, carolPassword), blocked)).status).not.toBe(servedStatus(s));

        // Neither password, in any spelling, reaches a log line; nor does any playlist key.
        const logged = lineup.logs.lines.slice(from).join('\n');
        for (const text of [logged, decodedAll(logged)]) {
          expect(text, spell(s, s.wrong)).not.toContain(s.wrong);
          expect(text, spell(s, carolPassword)).not.toContain(carolPassword);
          expect(text).not.toContain(aliceKey);
        }
      }),
      { numRuns: 300 },
    );
    expect(served).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(30);
  });
});
