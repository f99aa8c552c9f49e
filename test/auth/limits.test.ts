import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openContext } from '../../src/context.js';
import { createMetrics } from '../../src/metrics.js';
import { startServer } from '../../src/server.js';
import { startLineup } from '../../src/standalone.js';
import { captureLogs, fetchFrom } from '../helpers/lineup.js';
import {
  askFlussonic,
  askNginx,
  clock,
  closeBackendLineups,
  lineupWithBackend,
  linksOf,
  requestUri,
  subscriberWithLinks,
  tokenOf,
} from './support.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await closeBackendLineups();
});

/** Two viewers' addresses; the links are signed for the one that fetched them. */
const HOME = '127.0.0.1';
const FRIEND = '127.0.0.2';

describe('connection limits', () => {
  it('when a subscriber with 1 connection zaps across five channels from one IP, then none is refused, and the replaced stream is refused on its next check', async () => {
    const lineup = await lineupWithBackend();
    const { links } = await subscriberWithLinks(lineup, 'alice');
    const channels = ['news', 'live/sport', 'movies', 'music', 'kids'];
    for (const stream of channels) {
      clock.now += 5;
      expect((await askNginx(lineup, requestUri(links.get(stream)!), HOME)).status, stream).toBe(204);
      // A segment of the stream being watched still plays.
      const segment = requestUri(links.get(stream)!).replace('index.m3u8', 'seg-1.ts');
      expect((await askNginx(lineup, segment, HOME)).status, stream).toBe(204);
    }
    // The streams zapped away from were replaced: their next check is refused.
    expect((await askNginx(lineup, requestUri(links.get('music')!), HOME)).status).toBe(403);
    expect((await askNginx(lineup, requestUri(links.get('kids')!), HOME)).status).toBe(204);
    expect(lineup.logs.text()).toContain('"reason":"replaced"');
  });

  it('when a second IP starts beyond max_connections while the first plays, then it is refused, and the first keeps playing', async () => {
    const lineup = await lineupWithBackend();
    const { playlistUrl, links } = await subscriberWithLinks(lineup, 'alice');
    const friendLinks = await linksOf(playlistUrl, FRIEND);
    expect((await askNginx(lineup, requestUri(links.get('news')!), HOME)).status).toBe(204);
    clock.now += 1;
    expect((await askNginx(lineup, requestUri(friendLinks.get('news')!), FRIEND)).status).toBe(403);
    expect(lineup.logs.text()).toContain('"reason":"limit"');
    expect((await askNginx(lineup, requestUri(links.get('news')!), HOME)).status).toBe(204);
  });

  it('when max_connections is 2, then two IPs play and a third is refused', async () => {
    const lineup = await lineupWithBackend();
    const { playlistUrl, links } = await subscriberWithLinks(lineup, 'alice', ['--max-connections', '2']);
    const second = await linksOf(playlistUrl, FRIEND);
    const third = await linksOf(playlistUrl, '127.0.0.3');
    expect((await askNginx(lineup, requestUri(links.get('news')!), HOME)).status).toBe(204);
    expect((await askNginx(lineup, requestUri(second.get('news')!), FRIEND)).status).toBe(204);
    expect((await askNginx(lineup, requestUri(third.get('news')!), '127.0.0.3')).status).toBe(403);
  });

  it('when the playing session falls silent for SESSION_IDLE, then it no longer counts and another IP may start', async () => {
    const lineup = await lineupWithBackend({ SESSION_IDLE: '120' });
    const { playlistUrl, links } = await subscriberWithLinks(lineup, 'alice');
    const friendLinks = await linksOf(playlistUrl, FRIEND);
    expect((await askNginx(lineup, requestUri(links.get('news')!), HOME)).status).toBe(204);
    clock.now += 119;
    expect((await askNginx(lineup, requestUri(friendLinks.get('news')!), FRIEND)).status).toBe(403);
    clock.now += 120;
    expect((await askNginx(lineup, requestUri(friendLinks.get('news')!), FRIEND)).status).toBe(204);
  });

  it('when Flussonic checks the same session again (update_session), then it is allowed without counting twice', async () => {
    const lineup = await lineupWithBackend();
    const { links } = await subscriberWithLinks(lineup, 'alice');
    const ask = (sessionId: string, ip = HOME) =>
      askFlussonic(lineup, { name: 'news', ip, token: tokenOf(links.get('news')!), session_id: sessionId });
    expect((await ask('s1')).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      clock.now += 60;
      expect((await ask('s1')).status).toBe(200);
    }
    // Another session from the same IP (another player in the house) replaces s1: zapping.
    expect((await ask('s2')).status).toBe(200);
    expect((await ask('s1')).status).toBe(403);
  });

  it('when the server restarts, then the sessions it counted still count', async () => {
    const lineup = await lineupWithBackend();
    const { playlistUrl, links } = await subscriberWithLinks(lineup, 'alice');
    const friendLinks = await linksOf(playlistUrl, FRIEND);
    expect((await askNginx(lineup, requestUri(links.get('news')!), HOME)).status).toBe(204);
    await lineup.stop();

    const restarted = await startLineup(loadConfig(lineup.env), { logger: captureLogs().logger, clock });
    cleanups.push(() => restarted.stop());
    clock.now += 10;
    const uri = requestUri(friendLinks.get('news')!);
    const refused = await fetchFrom(`${restarted.url}/auth/nginx`, { headers: { 'X-Original-URI': uri, 'X-Real-IP': FRIEND } });
    expect(refused.status).toBe(403);
  });

  it('when two processes serve one database (WORKERS), then a session opened on one counts on the other', async () => {
    const lineup = await lineupWithBackend();
    const { playlistUrl, links } = await subscriberWithLinks(lineup, 'alice');
    const friendLinks = await linksOf(playlistUrl, FRIEND);
    // A second server on its own connections, as a cluster worker has.
    const context = openContext(loadConfig(lineup.env), { clock });
    const worker = await startServer(context, { logger: captureLogs().logger, metrics: createMetrics() });
    cleanups.push(async () => {
      await worker.stop();
      context.close();
    });
    expect((await askNginx(lineup, requestUri(links.get('news')!), HOME)).status).toBe(204);
    clock.now += 1;
    const uri = requestUri(friendLinks.get('news')!);
    const onWorker = await fetchFrom(`${worker.url}/auth/nginx`, { headers: { 'X-Original-URI': uri, 'X-Real-IP': FRIEND } });
    expect(onWorker.status).toBe(403);
    // Zapping on the worker replaces the session the first process opened; the first process then refuses it.
    const zap = requestUri(links.get('movies')!);
    expect((await fetchFrom(`${worker.url}/auth/nginx`, { headers: { 'X-Original-URI': zap, 'X-Real-IP': HOME } })).status).toBe(204);
    // Another process's session writes are looked for at most every 100 ms (session-store.ts).
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await askNginx(lineup, requestUri(links.get('news')!), HOME)).status).toBe(403);
  });
});
