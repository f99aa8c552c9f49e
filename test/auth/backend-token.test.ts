import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueBackendToken, keyFingerprint, verifyBackendToken } from '../../src/signing/backend-token.js';
import { parsePlaylist } from '../core/support.js';
import { execOn, fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { keyOf, redirectFrom } from '../links/support.js';
import { askFlussonic, askNginx, backendLineup, CHANNELS, requestUri, subscriberWithLinks, tokenOf } from './support.js';

const NOW = 1_900_000_000;
const holder = { subscriberId: 7, keyHash: 'a'.repeat(64) };
const secrets = { secret: 'current-secret' };

describe('backend tokens', () => {
  const token = issueBackendToken({ holder, ip: '203.0.113.7', expires: NOW + 3600, secret: secrets.secret });

  it('when a token is verified for the IP it was issued to before it expires, then it names the subscriber and the key it was issued under', () => {
    expect(verifyBackendToken(token, '203.0.113.7', secrets, NOW)).toEqual({
      subscriberId: 7,
      keyFingerprint: keyFingerprint(holder.keyHash),
      expires: NOW + 3600,
    });
  });

  it('when any character of it is changed, then it is forged; past its expiry, expired; from another IP, wrong_ip', () => {
    for (let at = 0; at < token.length; at++) {
      if (token[at] === '.') continue;
      const changed = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
      expect(['forged', 'bad_token']).toContain(verifyBackendToken(changed, '203.0.113.7', secrets, NOW));
    }
    // Another subscriber id with the MAC left as it was.
    expect(verifyBackendToken(token.replace('.7.', '.8.'), '203.0.113.7', secrets, NOW)).toBe('forged');
    expect(verifyBackendToken(token, '203.0.113.7', secrets, NOW + 3600)).toBe('expired_token');
    expect(verifyBackendToken(token, '203.0.113.8', secrets, NOW)).toBe('wrong_ip');
    expect(verifyBackendToken(token, '203.0.113.7', { secret: 'another' }, NOW)).toBe('forged');
  });

  it('when the secret is rotated, then the previous one still verifies its tokens, and a token names no secret', () => {
    expect(verifyBackendToken(token, '203.0.113.7', { secret: 'next', previousSecret: secrets.secret }, NOW)).toMatchObject({
      subscriberId: 7,
    });
    expect(token).not.toContain(secrets.secret);
    expect(token).not.toContain(holder.keyHash);
  });

  it('when the origin binds no IP, then the token verifies from any address', () => {
    const unbound = issueBackendToken({ holder, ip: undefined, expires: NOW + 60, secret: secrets.secret });
    expect(verifyBackendToken(unbound, '198.51.100.1', secrets, NOW)).toMatchObject({ subscriberId: 7 });
  });

  it('when garbage is verified, then it is refused without a throw', () => {
    for (const garbage of ['', '.', '.....', 'x'.repeat(10_000), `${token}.`, token.replaceAll('.', '-'), '\u0000'.repeat(70)]) {
      expect(verifyBackendToken(garbage, '203.0.113.7', secrets, NOW)).toBe('bad_token');
    }
  });
});

describe('backend origins in playlists', () => {
  let lineup: TestLineup;

  beforeAll(async () => {
    lineup = await startTestLineup();
    await backendLineup(lineup);
  });
  afterAll(() => lineup.close());

  it('when a playlist is fetched, then every backend link carries one token for that viewer, with the catch-up source carrying it too', async () => {
    const { playlistUrl } = await subscriberWithLinks(lineup, 'carol');
    const response = await fetchFrom(playlistUrl);
    const news = parsePlaylist(response.body).find((entry) => entry.name === 'News')!;
    const token = tokenOf(news.url);
    expect(response.body).toContain(`catchup-source="http://cdn.test/hls/news/index-{utc}-{duration}.m3u8?token=${token}"`);
    const uri = `/hls/news/index-${1_800_000_000}-3600.m3u8?token=${token}`;
    expect((await askNginx(lineup, uri)).status).toBe(204);
  });

  it('when the origin is in redirect mode, then /play answers 302 to a backend link, live and archive, that the auth backend allows', async () => {
    execOn(lineup.dbPath, `UPDATE origins SET link_mode = 'redirect' WHERE name = 'cdn'`);
    const { playlistUrl } = await subscriberWithLinks(lineup, 'dave', ['--max-connections', '2']);
    const key = keyOf(playlistUrl);
    const live = await redirectFrom(`${lineup.url}/play/${key}/${CHANNELS.news}.m3u8`);
    expect(live.location).toMatch(/^http:\/\/cdn\.test\/hls\/news\/index\.m3u8\?token=/);
    expect((await askNginx(lineup, requestUri(live.location))).status).toBe(204);
    const archive = await redirectFrom(`${lineup.url}/play/${key}/${CHANNELS.news}/index-1800000000-3600.m3u8`);
    expect(archive.location).toMatch(/^http:\/\/cdn\.test\/hls\/news\/index-1800000000-3600\.m3u8\?token=/);
    const flussonic = await askFlussonic(lineup, { name: 'news', ip: '127.0.0.1', token: tokenOf(archive.location), session_id: 'dvr-1' });
    expect(flussonic.status).toBe(200);
    execOn(lineup.dbPath, `UPDATE origins SET link_mode = NULL WHERE name = 'cdn'`);
  });

  it('when lineup render prints a playlist with a backend origin, then its tokens verify for the address it was rendered for', async () => {
    await subscriberWithLinks(lineup, 'erin');
    const rendered = await lineup.cli(['render', 'erin', '--ip', '127.0.0.1']);
    expect(rendered.code).toBe(0);
    const url = parsePlaylist(rendered.stdout).find((entry) => entry.name === 'Movies')!.url;
    expect((await askNginx(lineup, requestUri(url))).status).toBe(204);
  });
});
