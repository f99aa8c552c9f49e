import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { addSubscriber, applySql, parsePlaylist } from '../core/support.js';
import { type FetchResult, fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';

/** The secret of the `cdn` origin the fixture makes: a `backend` origin. */
export const CDN_SECRET = 'cdn-backend-secret';

/** Channel ids the fixture gives: news and sport are public, premium is in package gold; radio is on the default origin. */
export const CHANNELS = { news: 1, sport: 2, premium: 3, movies: 4, music: 5, kids: 6 } as const;

/** The backend fixture's SQL (origins, channels, a package), for SQLite and PostgreSQL alike. */
export function backendLineupSql(originOptions = ''): string {
  return `INSERT INTO origins (name, base_url, scheme, secret${originOptions ? ', ip_binding' : ''})
       VALUES ('cdn', 'http://cdn.test/hls', 'backend', '${CDN_SECRET}'${originOptions ? `, '${originOptions}'` : ''});
     INSERT INTO channels (id, stream, name, number, origin, catchup_days) VALUES
       (1, 'news', 'News', 1, 'cdn', 3), (2, 'live/sport', 'Sport', 2, 'cdn', 0), (3, 'premium', 'Premium', 3, 'cdn', 0),
       (4, 'movies', 'Movies', 4, 'cdn', 0), (5, 'music', 'Music', 5, 'cdn', 0), (6, 'kids', 'Kids', 6, 'cdn', 0);
     INSERT INTO channels (id, stream, name, number) VALUES (7, 'radio', 'Radio', 7);
     INSERT INTO packages (id, name) VALUES (1, 'gold');
     INSERT INTO package_channels (package_id, channel_id) VALUES (1, 3);`;
}

/** A lineup whose channels, but one, are on the `backend` origin `cdn` (http://cdn.test/hls). */
export async function backendLineup(lineup: TestLineup, originOptions = ''): Promise<void> {
  await applySql(lineup, backendLineupSql(originOptions));
}

/** Adds USER and fetches its playlist from `ip`; returns the stream URLs by stream name, and the playlist URL. */
export async function subscriberWithLinks(
  lineup: TestLineup,
  username: string,
  options: string[] = [],
  ip = '127.0.0.1',
): Promise<{ playlistUrl: string; links: Map<string, string> }> {
  const playlistUrl = await addSubscriber(lineup, username, ...options);
  return { playlistUrl, links: await linksOf(playlistUrl, ip) };
}

export async function linksOf(playlistUrl: string, ip = '127.0.0.1'): Promise<Map<string, string>> {
  const response = await fetchFrom(playlistUrl, { localAddress: ip });
  expect(response.status).toBe(200);
  const links = new Map<string, string>();
  for (const entry of parsePlaylist(response.body)) {
    const url = new URL(entry.url);
    if (url.host === 'cdn.test')
      links.set(decodeURIComponent(url.pathname.replace(/^\/hls\//, '').replace(/\/index\.m3u8$/, '')), entry.url);
  }
  return links;
}

/** The path and query of a URL, as nginx's $request_uri holds it. */
export const requestUri = (url: string) => {
  const { pathname, search } = new URL(url);
  return `${pathname}${search}`;
};

export const tokenOf = (url: string) => new URL(url).searchParams.get('token') ?? '';

/** Asks `/auth/nginx` as nginx's auth_request would for `uri` from `ip`. */
export function askNginx(lineup: Pick<TestLineup, 'url'>, uri: string, ip = '127.0.0.1'): Promise<FetchResult> {
  return fetchFrom(`${lineup.url}/auth/nginx`, { headers: { 'X-Original-URI': uri, 'X-Real-IP': ip } });
}

/** Asks `/auth/flussonic` with Flussonic's query parameters. */
export function askFlussonic(lineup: Pick<TestLineup, 'url'>, params: Record<string, string>): Promise<FetchResult> {
  const query = new URLSearchParams({ proto: 'hls', request_type: 'new_session', request_number: '0', ...params });
  return fetchFrom(`${lineup.url}/auth/flussonic?${query}`);
}

/** Where the hand-moved clock of the limit and revocation tests starts. */
export const START = 1_900_000_000;
/** The clock those tests move by hand (`clock.now += 60`). */
export const clock = Object.assign(() => clock.now, { now: START });
const started: TestLineup[] = [];

/** A Lineup on the backend fixture, its clock set back to START; `closeBackendLineups` in an afterEach. */
export async function lineupWithBackend(env: NodeJS.ProcessEnv = {}): Promise<TestLineup> {
  clock.now = START;
  const lineup = await startTestLineup({ clock, env });
  started.push(lineup);
  await backendLineup(lineup);
  return lineup;
}

export async function closeBackendLineups(): Promise<void> {
  for (const lineup of started.splice(0)) await lineup.close();
}

const servers: Server[] = [];

interface RecordedCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A stand-in for Flussonic's streamer API on 127.0.0.1:0 that records every call and answers 204. */
export async function flussonicApiStandIn(): Promise<{ url: string; calls: RecordedCall[] }> {
  const calls: RecordedCall[] = [];
  const server = createServer((req, res) => {
    calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.statusCode = 204;
    res.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

export async function closeFlussonicApiStandIns(): Promise<void> {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
}
