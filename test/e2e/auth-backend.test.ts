import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, lastLine, onServer } from '../helpers/lineup.js';
import { type AuthOrigin, type AuthSite, type AuthWorld, startAuthWorld } from './harness/auth-world.js';
import { MEDIA_SECONDS } from './harness/media.js';
import { type Probe, probe } from './harness/players.js';
import { streamUrls } from './harness/world.js';

/**
 * Lineup as the streaming server's auth backend, end to end: real nginx in front of the ffmpeg HLS
 * media, asking Lineup on every request (`auth_request`, with a short cache of decisions), and a
 * Flussonic stand-in (nginx + Lua) asking as Flussonic's on_play does. The same cases run against
 * both; each case has a subscriber of its own (max_connections 1), so that no session of one case
 * counts in another.
 */

let world: AuthWorld;

beforeAll(async () => {
  world = await startAuthWorld();
});

afterAll(async () => {
  await world?.stop();
});

let subscribers = 0;

/** A new subscriber's playlist URL, on the test server. */
async function newSubscriber(site: AuthSite, ...options: string[]): Promise<{ username: string; playlist: string }> {
  const username = `${site}-${++subscribers}`;
  const added = await world.lineup.cli(['subscriber', 'add', username, '--days', '30', ...options]);
  expect(added.code, added.stderr).toBe(0);
  return { username, playlist: onServer(world.lineup, lastLine(added.stdout)) };
}

/** The origin's stream URLs in the playlist as fetched from `localAddress`, by stream name. */
async function streamsOf(origin: AuthOrigin, playlist: string, localAddress = '127.0.0.1'): Promise<Map<string, string>> {
  const response = await fetchFrom(playlist, { localAddress });
  expect(response.status, `playlist from ${localAddress}: ${response.body}\n${world.lineupLogTail()}`).toBe(200);
  const urls = new Map<string, string>();
  for (const url of streamUrls(response.body)) {
    const parsed = new URL(url);
    if (Number(parsed.port) !== origin.port) continue;
    urls.set(decodeURIComponent(parsed.pathname).replace(/^\/|\/(index\.m3u8|mpegts)$/g, ''), url);
  }
  expect([...urls.keys()]).toEqual(origin.streams);
  for (const url of urls.values()) expect(new URL(url).searchParams.get('token'), url).toBeTruthy();
  return urls;
}

function context(origin: AuthOrigin, url: string, extra = ''): string {
  const log = world.nginx.accessLog(origin.site).trimEnd().split('\n').slice(-12).join('\n');
  return `${url}\n${extra}\naccess log (last 12):\n${log}\n${world.nginx.errorTail(8)}\n${world.lineupLogTail()}`;
}

function expectPlays(origin: AuthOrigin, result: Probe, url: string): void {
  const why = context(origin, url, `ffprobe: ${result.error}`);
  expect(result.ok, why).toBe(true);
  expect(result.codecs, why).toEqual(['aac', 'h264']);
  expect(result.duration, why).toBeGreaterThan(MEDIA_SECONDS - 1);
}

async function status(url: string, localAddress = '127.0.0.1'): Promise<number> {
  return (await fetchFrom(url, { localAddress })).status;
}

/** The same URL with a parameter that nginx's decision cache has never seen: the next request goes to Lineup. */
const uncached = (url: string, label: string) => `${url}&check=${label}-${Date.now()}`;

/** The Flussonic stand-in logs who decided each request: "backend" when Lineup answered it. */
function lastDecider(origin: AuthOrigin, stream: string, ip = '127.0.0.1'): string | undefined {
  if (origin.site !== 'flussonicBackend') return undefined;
  const lines = world.nginx
    .accessLog(origin.site)
    .trimEnd()
    .split('\n')
    .filter((line) => line.startsWith(`403 ${ip} /${stream}/`) || line.startsWith(`200 ${ip} /${stream}/`));
  return lines.at(-1)?.split(' ')[3];
}

describe.each([
  ['nginx auth_request in front of the HLS origin, Lineup answering /auth/nginx', 'authRequest'],
  ['the Flussonic backend-mode stand-in (nginx + Lua), Lineup answering /auth/flussonic', 'flussonicBackend'],
] as const)('%s', (_title, site) => {
  const origin = () => world.origins[site];

  it('when a subscriber plays a channel with the token Lineup issued, then ffprobe plays it over HLS and MPEG-TS', async () => {
    const { playlist } = await newSubscriber(site);
    const [stream, url] = [...(await streamsOf(origin(), playlist))][0]!;
    expectPlays(origin(), await probe(url), url);
    const ts = (await streamsOf(origin(), `${playlist}?output=ts`)).get(stream)!;
    expect(ts).toMatch(/\/mpegts\?token=/);
    expectPlays(origin(), await probe(ts), ts);
  });

  it('when the token is missing or tampered with, then the origin refuses the stream', async () => {
    const { playlist } = await newSubscriber(site);
    const url = [...(await streamsOf(origin(), playlist)).values()][1]!;
    const parsed = new URL(url);
    const token = parsed.searchParams.get('token')!;
    parsed.searchParams.delete('token');
    const refusedWithout = await status(parsed.href);
    // auth_request passes Lineup's 401 on; Flussonic knows only 403.
    expect(refusedWithout, context(origin(), parsed.href)).toBe(site === 'authRequest' ? 401 : 403);
    parsed.searchParams.set('token', (token[0] === 'a' ? 'b' : 'a') + token.slice(1));
    expect(await status(parsed.href), context(origin(), parsed.href)).toBe(403);
  });

  it('when the subscriber is disabled while playing, then the origin refuses the stream once the decision it holds has expired', async () => {
    const { username, playlist } = await newSubscriber(site);
    const [stream, url] = [...(await streamsOf(origin(), playlist))][2]!;
    expectPlays(origin(), await probe(url), url);
    const disabled = await world.lineup.cli(['subscriber', 'disable', username]);
    expect(disabled.code, disabled.stderr).toBe(0);
    // Within the decision cache time: the server asks Lineup again once its decision expires.
    await sleep((origin().decisionSeconds + 1) * 1000);
    expect(await status(url), context(origin(), url)).toBe(403);
    if (site === 'flussonicBackend') expect(lastDecider(origin(), stream), context(origin(), url)).toBe('backend');
    const result = await probe(url);
    expect(result.ok, context(origin(), url, 'ffprobe played a disabled subscriber')).toBe(false);
  });

  it('when a second IP plays beyond max_connections while the first plays, then the second is refused and the first goes on', async () => {
    const { playlist } = await newSubscriber(site);
    const [stream, first] = [...(await streamsOf(origin(), playlist))][3]!;
    expectPlays(origin(), await probe(first), first);
    // The same URL handed to another household: its playlist is signed for 127.0.0.2.
    const second = (await streamsOf(origin(), playlist, '127.0.0.2')).get(stream)!;
    expect(second).not.toBe(first);
    expect(await status(second, '127.0.0.2'), context(origin(), second)).toBe(403);
    if (site === 'flussonicBackend') expect(lastDecider(origin(), stream, '127.0.0.2'), context(origin(), second)).toBe('backend');
    const viaOtherHousehold = origin().from127002.rewrite(second);
    expect((await probe(viaOtherHousehold)).ok, context(origin(), viaOtherHousehold, 'the second household played')).toBe(false);
    // The first keeps playing, asked afresh once the decision it holds has expired.
    await sleep((origin().decisionSeconds + 0.5) * 1000);
    expectPlays(origin(), await probe(first), first);
    expect(await status(site === 'authRequest' ? uncached(first, 'first') : first), context(origin(), first)).toBe(200);
  });

  it('when one IP zaps across five channels, then no channel is refused, and each replaced channel is denied on its next check', async () => {
    const { playlist } = await newSubscriber(site);
    const urls = [...(await streamsOf(origin(), playlist))];
    for (const [index, [stream, url]] of urls.entries()) {
      // Zapping: the new channel's playlist first, as a player does, then the replaced one's next check.
      expect(await status(url), context(origin(), url, `zap to ${stream}`)).toBe(200);
      if (index > 0) {
        const [replaced, replacedUrl] = urls[index - 1]!;
        const check = site === 'authRequest' ? uncached(replacedUrl, 'replaced') : replacedUrl;
        expect(await status(check), context(origin(), check, `${replaced} after zapping to ${stream}`)).toBe(403);
        // Lineup's own answer, not only the stand-in's limiter.
        if (site === 'flussonicBackend') expect(lastDecider(origin(), replaced), context(origin(), check)).toBe('backend');
      }
      expectPlays(origin(), await probe(url), url);
    }
  });
});
