import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secureLinkMd5 } from '../../src/signing/nginx-secure-link.js';
import { securetoken } from '../../src/signing/securetoken.js';
import { fetchFrom } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { MEDIA_SECONDS } from './harness/media.js';
import { type Probe, probe } from './harness/players.js';
import { canListen } from './harness/ports.js';
import type { Relay } from './harness/relay.js';
import { playWithVlc } from './harness/vlc.js';
import {
  FLUSSONIC_STREAMS,
  SECURE_LINK_SECRET,
  SECURE_LINK_STREAMS,
  SECURETOKEN_KEY,
  startWorld,
  streamUrls,
  type World,
} from './harness/world.js';

const ipv6 = await canListen('::1');
let world: World;

beforeAll(async () => {
  world = await startWorld();
});

afterAll(async () => {
  await world?.stop();
});

async function playlist(url: string, localAddress?: string): Promise<string[]> {
  const response = await fetchFrom(url, localAddress ? { localAddress } : {});
  expect(response.status, `playlist ${url}: ${response.body}\n${world.lineupLogTail()}`).toBe(200);
  return streamUrls(response.body);
}

/** Fails with the player's complaint and nginx's reasons, not just "false". */
function expectPlays(result: Probe, url: string): void {
  const context = `${url}\nffprobe: ${result.error}\n${world.nginx.errorTail(10)}`;
  expect(result.ok, context).toBe(true);
  expect(result.codecs, context).toEqual(['aac', 'h264']);
  expect(result.duration, context).toBeGreaterThan(MEDIA_SECONDS - 1);
}

async function status(url: string, localAddress?: string): Promise<number> {
  return (await fetchFrom(url, localAddress ? { localAddress } : {})).status;
}

function relayFor(url: string): Relay {
  const port = Number(new URL(url).port);
  const { originPort, from127002 } = world;
  if (port === originPort.flussonic) return from127002.flussonic;
  if (port === originPort.flussonicNoCheckIp) return from127002.flussonicNoCheckIp;
  if (port === originPort.secureLink) return from127002.secureLink;
  throw new Error(`no relay for ${url}`);
}

const ALL_STREAMS = [...FLUSSONIC_STREAMS, ...SECURE_LINK_STREAMS];
const streamOf = (url: string) => decodeURIComponent(new URL(url).pathname).replace(/^\/|\/(index\.m3u8|mpegts)$/g, '');

describe('end to end, against real nginx origins, ffprobe and VLC', () => {
  it('when the playlist is fetched from 127.0.0.1, then every HLS and ?output=ts URL on both origins plays from 127.0.0.1', async () => {
    const hls = await playlist(world.mainPlaylist);
    const ts = await playlist(`${world.mainPlaylist}?output=ts`);
    expect(hls.map(streamOf)).toEqual(ALL_STREAMS);
    expect(ts.map(streamOf)).toEqual(ALL_STREAMS);
    expect(ts.every((url) => /\/mpegts\?/.test(url))).toBe(true);
    for (const url of [...hls, ...ts]) expectPlays(await probe(url), url);
  });

  it('when the same URLs are requested from 127.0.0.2, then both origins refuse them with 403', async () => {
    const urls = [...(await playlist(world.mainPlaylist)), ...(await playlist(`${world.mainPlaylist}?output=ts`))];
    for (const url of urls) expect(await status(url, '127.0.0.2'), url).toBe(403);
    // Through the relay as well: the refusal is the origin's, not a quirk of the request.
    const first = urls[0]!;
    expect((await probe(relayFor(first).rewrite(first))).ok).toBe(false);
  });

  it('when IP_BINDING=none meets a no_check_ip origin, then the URLs play from 127.0.0.2', async () => {
    const urls = [...(await playlist(world.noCheckIpPlaylist)), ...(await playlist(`${world.noCheckIpPlaylist}?output=ts`))];
    expect(urls).toHaveLength(FLUSSONIC_STREAMS.length * 2);
    for (const url of urls) {
      expect(verifySecuretokenUrl(url, { key: SECURETOKEN_KEY, ip: 'no_check_ip' }).valid, url).toBe(true);
      const viaOtherHousehold = relayFor(url).rewrite(url);
      expectPlays(await probe(viaOtherHousehold), viaOtherHousehold);
    }
    expect(world.nginx.accessLog('flussonicNoCheckIp')).toMatch(/^20[06] 127\.0\.0\.2 \/live\/ch1\/segment_\d+\.ts /m);
  });

  it('when a token is tampered with or has expired, then the origins refuse it (A: 403, B: 403 and 410)', async () => {
    const [flussonicUrl, , secureLinkUrl] = await playlist(world.mainPlaylist);
    expect(await status(flussonicUrl!)).toBe(200);
    expect(await status(secureLinkUrl!)).toBe(200);

    const tamper = (url: string, param: string, change: (value: string) => string) => {
      const parsed = new URL(url);
      parsed.searchParams.set(param, change(parsed.searchParams.get(param) ?? ''));
      return parsed.href;
    };
    const flipFirst = (value: string) => (value[0] === 'a' ? 'b' : 'a') + value.slice(1);
    expect(await status(tamper(flussonicUrl!, 'token', flipFirst))).toBe(403);
    // End and start swapped: the most common signing bug must not pass either.
    const swapped = tamper(flussonicUrl!, 'token', (token) => token.replace(/-(\d+)-(\d+)$/, '-$2-$1'));
    expect(await status(swapped)).toBe(403);
    expect(await status(tamper(secureLinkUrl!, 'md5', flipFirst))).toBe(403);

    // Signed by the project's own signers with a `now` far enough back that the token has lapsed.
    const past = Math.floor(Date.now() / 1000) - 2 * 10_800;
    const salt = '0123456789abcdef0123456789abcdef';
    const expiredToken = securetoken({
      subject: 'bbc',
      ip: '127.0.0.1',
      starttime: past - 300,
      endtime: past + 10_500,
      key: SECURETOKEN_KEY,
      salt,
    });
    const freshToken = securetoken({
      subject: 'bbc',
      ip: '127.0.0.1',
      starttime: past + 2 * 10_800 - 300,
      endtime: past + 3 * 10_800,
      key: SECURETOKEN_KEY,
      salt,
    });
    const flussonicBase = `http://127.0.0.1:${world.originPort.flussonic}/bbc/index.m3u8`;
    expect(await status(`${flussonicBase}?token=${freshToken}`)).toBe(200);
    expect(await status(`${flussonicBase}?token=${expiredToken}`)).toBe(403);
    expect(world.nginx.errorTail(20)).toContain('expired');

    const uri = '/movies/index.m3u8';
    const expires = past + 10_800;
    const md5 = secureLinkMd5({ uri, ip: '127.0.0.1', expires, secret: SECURE_LINK_SECRET });
    expect(await status(`http://127.0.0.1:${world.originPort.secureLink}${uri}?md5=${md5}&expires=${expires}`)).toBe(410);
  });

  it('when Lineup sits behind an nginx reverse proxy with TRUST_PROXY, then it signs the real client (127.0.0.2), not the proxy', async () => {
    const urls = await playlist(world.proxiedPlaylist, '127.0.0.2');
    expect(urls).toHaveLength(FLUSSONIC_STREAMS.length);
    expect(world.nginx.accessLog('proxy')).toMatch(/^200 127\.0\.0\.2 \/playlist\//m);
    for (const url of urls) {
      expect(verifySecuretokenUrl(url, { key: SECURETOKEN_KEY, ip: '127.0.0.2' }).valid, url).toBe(true);
      expect(await status(url), `${url} from the proxy's own address`).toBe(403);
      const viaClient = relayFor(url).rewrite(url);
      expectPlays(await probe(viaClient), viaClient);
    }
  });

  it.skipIf(!ipv6)('when the playlist is fetched over [::1], then its URLs play over [::1]', async () => {
    const urls = await playlist(world.ipv6Playlist!);
    expect(urls.length).toBe(FLUSSONIC_STREAMS.length);
    for (const url of urls) {
      expect(new URL(url).hostname).toBe('[::1]');
      expect(verifySecuretokenUrl(url, { key: SECURETOKEN_KEY, ip: '::1' }).valid, url).toBe(true);
      expectPlays(await probe(url), url);
    }
    expect(world.nginx.accessLog('flussonic')).toMatch(/^20[06] ::1 \/live\/ch1\/segment_\d+\.ts /m);
  });
  if (!ipv6) it.skip('IPv6 cases skipped: this machine cannot listen on ::1 (IPv6 disabled on loopback)', () => {});

  it('when VLC opens the playlist URL itself, then it plays every channel: both origins log 200 for its segment requests', async () => {
    const before = { flussonic: world.nginx.accessLog('flussonic').length, secureLink: world.nginx.accessLog('secureLink').length };
    const result = await playWithVlc(world.mainPlaylist, world.dir);
    const vlcLines = [
      ...world.nginx.accessLog('flussonic').slice(before.flussonic).split('\n'),
      ...world.nginx.accessLog('secureLink').slice(before.secureLink).split('\n'),
    ].filter((line) => /VLC/i.test(line));
    const context = `VLC exit ${result.code} (timed out: ${result.timedOut})\n${result.stderr.slice(-2000)}\naccess:\n${vlcLines.join('\n')}\n${world.nginx.errorTail(10)}`;
    for (const stream of ALL_STREAMS) {
      const segment = new RegExp(`^200 127\\.0\\.0\\.1 /${stream}/segment_\\d+\\.ts `);
      expect(
        vlcLines.some((line) => segment.test(line)),
        `${stream}: no 200 segment request from VLC\n${context}`,
      ).toBe(true);
    }
    expect(
      vlcLines.filter((line) => !line.startsWith('200 ')),
      context,
    ).toEqual([]);
  });

  it('when an XC app plays /live/U/P/ID.ts (and the legacy /U/P/ID), then ffprobe follows the 302 and plays from origin A, and 127.0.0.2 is refused', async () => {
    const id = world.main.context.db.prepare("SELECT id FROM channels WHERE stream = 'live/ch1'").pluck().get() as number;
    for (const path of [
      `/live/alice/${world.mainXcPassword}/${id}.ts`,
      `/live/alice/${world.mainXcPassword}/${id}.m3u8`,
      `/alice/${world.mainXcPassword}/${id}`,
    ]) {
      const url = `${world.main.url}${path}`;
      // ffprobe itself asks Lineup, follows the redirect and opens the signed origin URL.
      expectPlays(await probe(url), url);
      const redirect = await fetchFrom(url);
      expect(redirect.status).toBe(302);
      expect(await status(String(redirect.headers.location), '127.0.0.2')).toBe(403);
    }
    expect(await status(`${world.main.url}/live/alice/wrong-pass/${id}.ts`)).toBe(401);
  });

  it('when an XC app plays /timeshift/U/P/DURATION/START/ID.ts, then it lands on the archive window of origin A and plays', async () => {
    const sql = join(world.dir, 'catchup.sql');
    writeFileSync(sql, "UPDATE channels SET catchup_days = 1 WHERE stream = 'live/ch1';\n");
    expect((await world.main.cli(['sql', sql])).code).toBe(0);
    const id = world.main.context.db.prepare("SELECT id FROM channels WHERE stream = 'live/ch1'").pluck().get() as number;
    const then = new Date(Date.now() - 2 * 3_600_000);
    const two = (n: number) => String(n).padStart(2, '0');
    const start = `${then.getUTCFullYear()}-${two(then.getUTCMonth() + 1)}-${two(then.getUTCDate())}:${two(then.getUTCHours())}-${two(then.getUTCMinutes())}`;
    const url = `${world.main.url}/timeshift/alice/${world.mainXcPassword}/30/${start}/${id}.ts`;
    const redirect = await fetchFrom(url);
    expect(redirect.status, redirect.body).toBe(302);
    expect(new URL(String(redirect.headers.location)).pathname).toMatch(/^\/live\/ch1\/archive-\d+-1800\.ts$/);
    expectPlays(await probe(url), url);
  });

  it('when a Kodi-style catch-up URL is derived from a live URL (same query), then origin A accepts the DVR paths', async () => {
    const live = (await playlist(world.mainPlaylist)).find((url) => streamOf(url) === 'live/ch1')!;
    const from = Math.floor(Date.now() / 1000) - 3600;
    const archive = live.replace('/index.m3u8?', `/index-${from}-${MEDIA_SECONDS}.m3u8?`);
    const timeshift = live.replace('/index.m3u8?', `/timeshift_abs-${from}.ts?`);
    expectPlays(await probe(archive), archive);
    expectPlays(await probe(timeshift), timeshift);
    // The token names its stream: the same query on another stream's DVR path is refused.
    expect(await status(archive.replace('/live/ch1/', '/bbc/'))).toBe(403);
    expect(await status(archive, '127.0.0.2')).toBe(403);
  });
});
