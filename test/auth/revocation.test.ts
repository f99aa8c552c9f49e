import { afterEach, describe, expect, it } from 'vitest';
import { toSqlTime } from '../../src/time.js';
import { applySql } from '../core/support.js';
import { execOn } from '../helpers/lineup.js';
import {
  askFlussonic,
  askNginx,
  CDN_SECRET,
  clock,
  closeBackendLineups,
  closeFlussonicApiStandIns,
  flussonicApiStandIn,
  lineupWithBackend,
  linksOf,
  requestUri,
  START,
  subscriberWithLinks,
  tokenOf,
} from './support.js';

afterEach(async () => {
  await closeBackendLineups();
  await closeFlussonicApiStandIns();
});

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 100) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`waited 10 s for ${what}`);
}

describe('instant revocation', () => {
  it('when the operator disables the subscriber from another process, then the next check is refused, and enabling lets it play again', async () => {
    const lineup = await lineupWithBackend();
    const { links } = await subscriberWithLinks(lineup, 'alice');
    const uri = requestUri(links.get('news')!);
    expect((await askNginx(lineup, uri)).status).toBe(204);
    expect((await lineup.cli(['subscriber', 'disable', 'alice'])).code).toBe(0);
    expect((await askNginx(lineup, uri)).status).toBe(403);
    expect(lineup.logs.text()).toContain('"reason":"disabled"');
    expect((await lineup.cli(['subscriber', 'enable', 'alice'])).code).toBe(0);
    expect((await askNginx(lineup, uri)).status).toBe(204);
  });

  it('when the subscription reaches its expiry while the token is still valid, then the next check is refused', async () => {
    const lineup = await lineupWithBackend();
    const { links } = await subscriberWithLinks(lineup, 'alice', ['--until', toSqlTime(START + 600)]);
    const uri = requestUri(links.get('news')!);
    expect((await askNginx(lineup, uri)).status).toBe(204);
    clock.now = START + 600;
    expect((await askNginx(lineup, uri)).status).toBe(403);
    expect(lineup.logs.text()).toContain('"reason":"expired"');
  });

  it('when a token that verified a moment ago reaches its expiry, then the next check is refused', async () => {
    const lineup = await lineupWithBackend();
    execOn(lineup.dbPath, `UPDATE origins SET token_ttl = 60 WHERE name = 'cdn'`);
    const { links } = await subscriberWithLinks(lineup, 'alice');
    const uri = requestUri(links.get('news')!);
    expect((await askNginx(lineup, uri)).status).toBe(204);
    clock.now += 59;
    expect((await askNginx(lineup, uri)).status).toBe(204);
    clock.now += 1;
    expect((await askNginx(lineup, uri)).status).toBe(403);
    expect(lineup.logs.text()).toContain('"reason":"expired_token"');
  });

  it('when a package is removed, then its channel is refused at the next check and the others still play', async () => {
    const lineup = await lineupWithBackend();
    const { links } = await subscriberWithLinks(lineup, 'alice', ['--package', 'gold', '--max-connections', '2']);
    expect((await askNginx(lineup, requestUri(links.get('premium')!))).status).toBe(204);
    expect((await lineup.cli(['subscriber', 'packages', 'alice', '--remove', 'gold'])).code).toBe(0);
    expect((await askNginx(lineup, requestUri(links.get('premium')!))).status).toBe(403);
    expect(lineup.logs.text()).toContain('"reason":"not_entitled"');
    expect((await askNginx(lineup, requestUri(links.get('news')!))).status).toBe(204);
  });

  it('when the playlist key is rotated, then every token of the old playlist is refused and the new playlist plays', async () => {
    const lineup = await lineupWithBackend();
    const { links } = await subscriberWithLinks(lineup, 'alice');
    expect((await askNginx(lineup, requestUri(links.get('news')!))).status).toBe(204);
    const rotated = await lineup.cli(['subscriber', 'rotate', 'alice']);
    expect(rotated.code).toBe(0);
    expect((await askNginx(lineup, requestUri(links.get('news')!))).status).toBe(403);
    expect(lineup.logs.text()).toContain('"reason":"key_rotated"');
    const newUrl = `${lineup.url}${new URL(rotated.stdout.trim().split('\n').at(-1)!).pathname}`;
    const fresh = await linksOf(newUrl);
    expect((await askNginx(lineup, requestUri(fresh.get('news')!))).status).toBe(204);
  });

  it("when the origin's secret is rotated with previous_secret kept, then old tokens still verify until previous_secret is cleared", async () => {
    const lineup = await lineupWithBackend();
    const { playlistUrl, links } = await subscriberWithLinks(lineup, 'alice', ['--max-connections', '5']);
    await applySql(lineup, `UPDATE origins SET previous_secret = secret, secret = 'the-new-secret' WHERE name = 'cdn';`);
    expect((await askNginx(lineup, requestUri(links.get('news')!))).status).toBe(204);
    const fresh = await linksOf(playlistUrl);
    expect(tokenOf(fresh.get('news')!)).not.toBe(tokenOf(links.get('news')!));
    expect((await askNginx(lineup, requestUri(fresh.get('movies')!))).status).toBe(204);
    execOn(lineup.dbPath, `UPDATE origins SET previous_secret = NULL WHERE name = 'cdn'`);
    expect((await askNginx(lineup, requestUri(links.get('music')!))).status).toBe(403);
    expect(lineup.logs.text()).toContain('"reason":"forged"');
    expect((await askNginx(lineup, requestUri(fresh.get('music')!))).status).toBe(204);
    expect(CDN_SECRET).not.toBe('the-new-secret');
  });

  it('when FLUSSONIC_API_URL is set and a watching subscriber is disabled, then Lineup closes its Flussonic session through the API with Basic auth, and never logs the password', async () => {
    const api = await flussonicApiStandIn();
    const apiUrl = api.url.replace('http://', 'http://operator:s3cret-pass@');
    const lineup = await lineupWithBackend({ FLUSSONIC_API_URL: apiUrl });
    const { links } = await subscriberWithLinks(lineup, 'alice', ['--max-connections', '2']);
    const bob = await subscriberWithLinks(lineup, 'bob');
    const token = tokenOf(links.get('news')!);
    expect((await askFlussonic(lineup, { name: 'news', ip: '127.0.0.1', token, session_id: 'fs-42' })).status).toBe(200);
    expect((await askFlussonic(lineup, { name: 'movies', ip: '127.0.0.1', token, session_id: 'fs/43' })).status).toBe(200);
    const bobToken = tokenOf(bob.links.get('news')!);
    expect((await askFlussonic(lineup, { name: 'news', ip: '127.0.0.1', token: bobToken, session_id: 'fs-50' })).status).toBe(200);

    execOn(lineup.dbPath, `UPDATE subscribers SET enabled = 0 WHERE username = 'alice'`);
    await until(() => api.calls.length >= 2, 'two DELETE calls');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(api.calls.map((call) => `${call.method} ${call.url}`).sort()).toEqual([
      'DELETE /streamer/api/v3/sessions/fs%2F43',
      'DELETE /streamer/api/v3/sessions/fs-42',
    ]);
    expect(api.calls[0]!.headers.authorization).toBe(`Basic ${Buffer.from('operator:s3cret-pass').toString('base64')}`);
    expect(lineup.logs.text()).not.toContain('s3cret-pass');
    // Bob was not touched; alice's next check is refused anyway.
    expect((await askFlussonic(lineup, { name: 'news', ip: '127.0.0.1', token: bobToken, session_id: 'fs-50' })).status).toBe(200);
    expect((await askFlussonic(lineup, { name: 'news', ip: '127.0.0.1', token, session_id: 'fs-42' })).status).toBe(403);
  });

  it('when FLUSSONIC_API_TOKEN is set, then the API is called with that bearer token', async () => {
    const api = await flussonicApiStandIn();
    const lineup = await lineupWithBackend({ FLUSSONIC_API_URL: api.url, FLUSSONIC_API_TOKEN: 'api-bearer-token' });
    const { links } = await subscriberWithLinks(lineup, 'alice');
    expect(
      (await askFlussonic(lineup, { name: 'news', ip: '127.0.0.1', token: tokenOf(links.get('news')!), session_id: 'fs-1' })).status,
    ).toBe(200);
    expect((await lineup.cli(['subscriber', 'rotate', 'alice'])).code).toBe(0);
    await until(() => api.calls.length >= 1, 'a DELETE call');
    expect(api.calls[0]).toMatchObject({ method: 'DELETE', url: '/streamer/api/v3/sessions/fs-1' });
    expect(api.calls[0]!.headers.authorization).toBe('Bearer api-bearer-token');
  });
});
