import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import parser from 'iptv-playlist-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, lastLine, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { MEDIA_SECONDS } from './harness/media.js';
import { type Probe, probe } from './harness/players.js';
import { SECURETOKEN_KEY, startWorld, type World } from './harness/world.js';

/**
 * Issue #7 against origin A (the Flussonic stand-in): catch-up sources as announced in the
 * playlist, and redirect-mode links followed by a real player (ffprobe follows the 302).
 */
let world: World;
let lineup: TestLineup;
let entries: ReturnType<typeof parser.parse>['items'];
let tsEntries: ReturnType<typeof parser.parse>['items'];

beforeAll(async () => {
  world = await startWorld();
  const originA = `http://127.0.0.1:${world.originPort.flussonic}`;
  lineup = await startTestLineup({ env: { SECURETOKEN_KEY, ORIGIN_URL: originA } });
  const sql = join(lineup.dir, 'links.sql');
  writeFileSync(
    sql,
    `INSERT INTO origins (name, base_url, secret, link_mode) VALUES ('a-redirect', '${originA}', '${SECURETOKEN_KEY}', 'redirect');
     INSERT INTO channels (stream, name, number, catchup_days, origin) VALUES
       ('bbc', 'Direct', 1, 1, NULL), ('live/ch1', 'Redirected', 2, 1, 'a-redirect');`,
  );
  expect((await lineup.cli(['sql', sql])).code).toBe(0);
  const added = await lineup.cli(['subscriber', 'add', 'alice']);
  const playlistUrl = onServer(lineup, lastLine(added.stdout));
  entries = parser.parse((await fetchFrom(playlistUrl)).body).items;
  tsEntries = parser.parse((await fetchFrom(`${playlistUrl}?output=ts`)).body).items;
});

afterAll(async () => {
  await lineup?.close();
  await world?.stop();
});

/** A URL from the playlist as a player would request it: PUBLIC_URL is a placeholder host in tests. */
const reachable = (url: string) => url.replace('http://lineup.test', lineup.url);
/** What Kodi does with a catch-up source: an hour ago, for the length of the test media. */
const filled = (source: string) =>
  reachable(source.replace('{utc}', String(Math.floor(Date.now() / 1000) - 3600)).replace('{duration}', String(MEDIA_SECONDS)));

function expectPlays(result: Probe, url: string): void {
  const context = `${url}\nffprobe: ${result.error}\n${world.nginx.errorTail(10)}`;
  expect(result.ok, context).toBe(true);
  expect(result.codecs, context).toEqual(['aac', 'h264']);
}

describe('links that stay playable, against origin A', () => {
  it('when the playlist announces a direct catch-up source, then the filled-in HLS and MPEG-TS archive URLs play', async () => {
    for (const item of [entries, tsEntries].map((list) => list.find((entry) => entry.name === 'Direct')!)) {
      expect(item.catchup.source).toContain('{utc}');
      expectPlays(await probe(filled(item.catchup.source)), item.catchup.source);
    }
  });

  it('when a player opens a redirect-mode link, then it follows the 302 to origin A and plays, live and from the archive', async () => {
    for (const item of [entries, tsEntries].map((list) => list.find((entry) => entry.name === 'Redirected')!)) {
      expect(item.url).toMatch(/^http:\/\/lineup\.test\/play\//);
      expectPlays(await probe(reachable(item.url)), item.url);
      expectPlays(await probe(filled(item.catchup.source)), item.catchup.source);
    }
  });
});
