import type { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type LineupMetrics } from '../../src/metrics.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { applySql } from '../core/support.js';
import { LaterLookups } from '../helpers/later-lookups.js';
import { type BytesResult as Answer, captureLogs, fetchBytes, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { addXcSubscriber } from '../xtream/support.js';

// One context (database, caches, playlist service) behind two listeners: the server as it runs,
// where the exact playlist and /live paths are answered in front of koa, and the same server with
// every request through koa. Each request goes to both; the answers, log lines and metrics must
// be the same. Each listener has its own guess limiter, concurrency limiter, log and metrics.

const GUESS_LIMIT = 3;
const HOME = '10.0.0.1';

/** A signed URL's token differs per redirect (a fresh salt each time): compared without it. */
const withoutTokens = (text: string) => text.replace(/token=[A-Za-z0-9_-]+/g, 'token=…');

/** What must match: status, headers but Date, and body; redirect tokens aside. */
function comparable({ status, headers, body }: Answer) {
  const { date: _date, ...rest } = headers;
  const location = typeof rest.location === 'string' ? withoutTokens(rest.location) : rest.location;
  const text = status === 302 ? withoutTokens(body.toString('latin1')) : body.toString('base64');
  return { status, headers: { ...rest, ...(location === undefined ? {} : { location }) }, body: text };
}

/** A request line, without what differs by nature (the time, the duration). */
const requestLines = (lines: string[]) =>
  lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === 'request')
    .map(({ time: _time, ms: _ms, ...rest }) => rest);

const counted = async (counter: Counter<string>) =>
  Object.fromEntries((await counter.get()).values.map((entry) => [JSON.stringify(entry.labels), entry.value]));

async function countsOf(metrics: LineupMetrics) {
  return {
    playlist: await counted(metrics.playlistRequests),
    play: await counted(metrics.playRequests),
    lookupFailures: await counted(metrics.lookupFailures),
    rateLimited: await counted(metrics.rateLimited),
    rendered: (await metrics.renderSeconds.get()).values.find((entry) => entry.metricName === 'lineup_playlist_render_seconds_count')
      ?.value,
  };
}

describe.each([
  { lookups: 'subscriber lookups at hand (SQLite)', later: false },
  // As PostgreSQL's: a lookup not remembered answers in a later turn, and the answer is written then.
  { lookups: 'subscriber lookups that wait', later: true },
])('the paths answered in front of koa, with $lookups', ({ later }) => {
  let lineup: TestLineup;
  const lookups = later ? new LaterLookups() : undefined;
  let koaOnly: RunningServer;
  let koaMetrics: LineupMetrics;
  let koaLogs: ReturnType<typeof captureLogs>['logs'];
  let aliceKey: string;
  let alicePassword: string;
  let bobKey: string;
  let bobPassword: string;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    lineup = await startTestLineup({
      // A fixed clock: no bucket boundary between the two answers.
      clock: () => now,
      env: { GUESS_LIMIT: String(GUESS_LIMIT), GUESS_BLOCK: '900', TRUST_PROXY: '127.0.0.1', TOKEN_BUCKET: '3600', PLAYLIST_IP_LIMIT: '2' },
      ...(lookups ? { subscriberLookups: lookups } : {}),
    });
    if (lookups) lookups.store = lineup.context.subscribers;
    await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('news', 'News & <Weather>', 1), ('sport', 'Sport', 2);");
    const alice = await addXcSubscriber(lineup, 'alice');
    aliceKey = /\/playlist\/([^/.]+)\.m3u/.exec(alice.playlistUrl)![1]!;
    alicePassword = alice.password;
    const bob = await addXcSubscriber(lineup, 'bob');
    bobKey = /\/playlist\/([^/.]+)\.m3u/.exec(bob.playlistUrl)![1]!;
    bobPassword = bob.password;
    await applySql(lineup, "UPDATE subscribers SET expires_at = '2000-01-01 00:00:00' WHERE username = 'bob';");
    const captured = captureLogs();
    koaLogs = captured.logs;
    koaMetrics = createMetrics();
    koaOnly = await startServer(lineup.context, { logger: captured.logger, metrics: koaMetrics, fastPaths: false });
  });
  afterAll(async () => {
    await koaOnly?.stop();
    await lineup?.close();
  });

  /** The same request to both listeners, from `address`; their answers, log lines and counts compared. */
  async function both(path: string, options: { method?: string; headers?: Record<string, string>; address?: string } = {}) {
    const headers = { 'X-Forwarded-For': options.address ?? HOME, ...options.headers };
    const fastFrom = lineup.logs.lines.length;
    const koaFrom = koaLogs.lines.length;
    const fastBefore = await countsOf(lineup.metrics);
    const koaBefore = await countsOf(koaMetrics);
    const fast = await fetchBytes(`${lineup.url}${path}`, { ...options, headers });
    const koa = await fetchBytes(`${koaOnly.url}${path}`, { ...options, headers });
    expect(comparable(fast), `${options.method ?? 'GET'} ${path}`).toEqual(comparable(koa));
    expect(requestLines(lineup.logs.lines.slice(fastFrom))).toEqual(requestLines(koaLogs.lines.slice(koaFrom)));
    const delta = async (metrics: LineupMetrics, before: Awaited<ReturnType<typeof countsOf>>) => {
      const after = await countsOf(metrics);
      return Object.fromEntries(
        Object.entries(after).map(([name, value]) => [
          name,
          typeof value === 'object'
            ? Object.fromEntries(Object.entries(value).map(([label, n]) => [label, n - ((before as never)[name]?.[label] ?? 0)]))
            : (value ?? 0) - ((before[name as keyof typeof before] as number | undefined) ?? 0),
        ]),
      );
    };
    expect(await delta(lineup.metrics, fastBefore)).toEqual(await delta(koaMetrics, koaBefore));
    return fast;
  }

  it('when a playlist is fetched, refreshed with its ETag, asked with HEAD or gzip, then both answer alike', async () => {
    const plain = await both(`/playlist/${aliceKey}.m3u`);
    expect(plain.status).toBe(200);
    expect(plain.body.toString()).toContain('#EXTM3U');
    const etag = plain.headers.etag as string;
    const refreshed = await both(`/playlist/${aliceKey}.m3u`, { headers: { 'If-None-Match': etag } });
    expect(refreshed.status).toBe(304);
    expect(refreshed.body.length).toBe(0);
    expect((await both(`/playlist/${aliceKey}.m3u8`, { method: 'HEAD' })).headers['content-length']).toBe(String(plain.body.length));
    const zipped = await both(`/playlist/${aliceKey}.m3u`, { headers: { 'Accept-Encoding': 'gzip, deflate' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    const zippedTag = zipped.headers.etag as string;
    expect((await both(`/playlist/${aliceKey}.m3u`, { headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': zippedTag } })).status).toBe(
      304,
    );
    // The identity tag does not confirm the gzip bytes.
    expect((await both(`/playlist/${aliceKey}.m3u`, { headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': etag } })).status).toBe(200);
    expect((await both(`/playlist/${aliceKey}.m3u`, { method: 'HEAD', headers: { 'If-None-Match': etag } })).status).toBe(304);
    if (lookups) expect(lookups.asked.length).toBeGreaterThan(0);
  });

  it('when a key is unknown, malformed, expired or refused for a third address, then both refuse alike', async () => {
    expect((await both(`/playlist/${'Q'.repeat(24)}.m3u`, { address: '10.0.1.1' })).status).toBe(404);
    expect((await both('/playlist/not-a-playlist.txt', { address: '10.0.1.2' })).status).toBe(404);
    expect((await both(`/playlist/${bobKey}.m3u`)).status).toBe(403);
    // PLAYLIST_IP_LIMIT=2: alice's home and one more address; a third is refused, on either path.
    expect((await both(`/playlist/${aliceKey}.m3u`, { address: '10.0.2.1' })).status).toBe(200);
    expect((await both(`/playlist/${aliceKey}.m3u`, { address: '10.0.2.2' })).status).toBe(403);
  });

  it('when an address guesses past GUESS_LIMIT, then both count it and answer 429 with Retry-After, even for a valid key', async () => {
    const address = '10.0.3.1';
    for (let i = 0; i <= GUESS_LIMIT; i++) expect((await both(`/playlist/${'Z'.repeat(23)}${i}.m3u`, { address })).status).toBe(404);
    const blocked = await both(`/playlist/${aliceKey}.m3u`, { address });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await both(`/live/alice/${alicePassword}/1.ts`, { address })).status).toBe(429);
  });

  it('when an XC live link is followed, then both redirect alike, with a token for the address, and count it as a play', async () => {
    const live = await both(`/live/alice/${alicePassword}/1.ts`);
    expect(live.status).toBe(302);
    expect(live.headers['cache-control']).toBe('no-store');
    expect(live.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(verifySecuretokenUrl(live.headers.location as string, { key: 'test-securetoken-key', ip: HOME }).valid).toBe(true);
    expect((await both(`/live/alice/${alicePassword}/2.m3u8`)).status).toBe(302);
    expect((await both(`/live/alice/${alicePassword}/1.ts`, { headers: { Accept: 'application/json' } })).headers['content-type']).toBe(
      'text/plain; charset=utf-8',
    );
    expect((await both(`/live/alice/${alicePassword}/1.ts`, { method: 'HEAD' })).body.length).toBe(0);
    const plays = await counted(lineup.metrics.playRequests);
    await both(`/live/alice/${alicePassword}/1.ts`);
    expect((await counted(lineup.metrics.playRequests))['{"outcome":"302"}']).toBe((plays['{"outcome":"302"}'] ?? 0) + 1);
  });

  it('when an XC live link names a wrong password, an unknown channel or an expired line, then both refuse alike', async () => {
    expect((await both('/live/alice/wrong-pass/1.ts', { address: '10.0.4.1' })).status).toBe(401);
    expect((await both(`/live/alice/${alicePassword}/99.ts`)).status).toBe(404);
    expect((await both(`/live/alice/${alicePassword}/news`)).status).toBe(404);
    expect((await both(`/live/bob/${bobPassword}/1.ts`)).status).toBe(403);
  });

  it('when a path is spelled oddly or asks otherwise, then it goes to koa and is answered as the exact path is', async () => {
    const exact = comparable(await both(`/playlist/${aliceKey}.m3u`));
    for (const path of [
      `/PLAYLIST/${aliceKey}.m3u`,
      `//playlist/${aliceKey}.m3u`,
      `/playlist/./${aliceKey}.m3u`,
      `/%70laylist/${aliceKey}.m3u`,
    ]) {
      expect(comparable(await both(path)), path).toEqual(exact);
    }
    expect((await both(`/playlist/${aliceKey}.m3u?output=ts`)).status).toBe(200);
    expect((await both(`/playlist/${aliceKey}.m3u`, { method: 'POST' })).status).toBe(200);
    expect((await both(`/playlist/${aliceKey}.m3u`, { method: 'PUT' })).status).toBe(405);
    const live = comparable(await both(`/live/alice/${alicePassword}/1.ts`));
    for (const path of [
      `/LIVE/alice/${alicePassword}/1.ts`,
      `/live//alice/${alicePassword}/1.ts`,
      `/live/alice/${alicePassword}/1.ts?x=1`,
    ]) {
      expect(comparable(await both(path)), path).toEqual(live);
    }
    expect((await both(`/live/alice/${alicePassword}/1.ts`, { method: 'POST' })).status).toBe(404);
    expect((await both(`/live/alice/${alicePassword}/1.ts/`)).status).toBe(302);
  });
});
