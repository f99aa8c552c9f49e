import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_AUTH_QUERY_LENGTH } from '../../src/http/input-limits.js';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { askNginx, backendLineup, linksOf, requestUri, subscriberWithLinks, tokenOf } from './support.js';

let lineup: TestLineup;
let links: Map<string, string>;
let playlistUrl: string;

beforeAll(async () => {
  lineup = await startTestLineup();
  await backendLineup(lineup);
  // One connection: any bad request that counted would take it.
  ({ playlistUrl, links } = await subscriberWithLinks(lineup, 'alice'));
});
afterAll(() => lineup.close());

const huge = 'x'.repeat(MAX_AUTH_QUERY_LENGTH);

describe('bad input to the auth backend', () => {
  it('when any fact is missing, garbage, huge or repeated, then the answer is a 4xx, never a 5xx, and nothing counts toward the limit', async () => {
    const token = tokenOf(links.get('news')!);
    const flussonic = [
      '',
      'name=news',
      `name=news&ip=127.0.0.1`,
      `name=news&ip=not-an-ip&token=${token}&session_id=a`,
      `name=news&ip=127.0.0.1&token=garbage&session_id=a`,
      `name=news&ip=127.0.0.1&token=${token.slice(0, -2)}xx&session_id=a`,
      `name=nope&ip=127.0.0.1&token=${token}&session_id=a`,
      `name=../premium&ip=127.0.0.1&token=${token}&session_id=a`,
      `name=news&ip=127.0.0.2&token=${token}&session_id=a`,
      `name=news&ip=127.0.0.1&token=${token}&session_id=${'s'.repeat(300)}`,
      `name=${'n'.repeat(2000)}&ip=127.0.0.1&token=${token}&session_id=a`,
      `name=news&ip=127.0.0.1&ip=127.0.0.2&token=${token}&token=x&session_id=a&session_id=b&name=movies&ip=127.0.0.3`,
      `name=news&ip=127.0.0.1&token=${huge}`,
      'name=%ZZ&ip=%&token=%%%&session_id=%E0%A4%A',
      `name=news&ip=127.0.0.1&token=${encodeURIComponent('\u0000\n\r')}`,
    ];
    for (const query of flussonic) {
      const response = await fetchFrom(`${lineup.url}/auth/flussonic?${query}`);
      expect(response.status, query.slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(response.status, query.slice(0, 80)).toBeLessThan(500);
    }
    const uri = requestUri(links.get('news')!);
    const headerSets: Record<string, string>[] = [
      {},
      { 'X-Original-URI': uri },
      { 'X-Real-IP': '127.0.0.1' },
      { 'X-Original-URI': 'not a path', 'X-Real-IP': '127.0.0.1' },
      { 'X-Original-URI': uri, 'X-Real-IP': '127.0.0.1, 10.0.0.1' },
      { 'X-Original-URI': `/hls/news/index.m3u8?token=${'t'.repeat(4000)}`, 'X-Real-IP': '127.0.0.1' },
      { 'X-Original-URI': `/hls/news/../premium/index.m3u8?token=${tokenOf(links.get('news')!)}`, 'X-Real-IP': '127.0.0.1' },
      { 'X-Original-URI': `/hls/${'a/'.repeat(1500)}?token=x`, 'X-Real-IP': '127.0.0.1' },
      { 'X-Original-URI': '/hls/news/index.m3u8?token=%ZZ&token=', 'X-Real-IP': '::ffff:zz' },
    ];
    for (const headers of headerSets) {
      for (const path of ['/auth/nginx', '/auth/cesbo']) {
        const original = headers['X-Original-URI'];
        const cesbo: Record<string, string> = path === '/auth/cesbo' && original !== undefined ? { 'X-Real-Path': original } : {};
        const response = await fetchFrom(`${lineup.url}${path}`, { headers: { ...headers, ...cesbo } });
        expect(response.status, JSON.stringify(headers).slice(0, 80)).toBeGreaterThanOrEqual(400);
        expect(response.status, JSON.stringify(headers).slice(0, 80)).toBeLessThan(500);
      }
    }
    // None of that took alice's one connection: a viewer at another address may still start.
    const friend = await linksOf(playlistUrl, '127.0.0.2');
    expect((await askNginx(lineup, requestUri(friend.get('news')!), '127.0.0.2')).status).toBe(204);
    expect(lineup.logs.text()).not.toContain('unhandled error');
  });

  it('when a refusal is answered, then its body says only Forbidden, and the log line carries the reason but no token', async () => {
    const token = tokenOf(links.get('movies')!);
    const response = await fetchFrom(`${lineup.url}/auth/flussonic?name=movies&ip=127.0.0.9&token=${token}&session_id=z`);
    expect(response.status).toBe(403);
    expect(response.body).toBe('Forbidden\n');
    expect(lineup.logs.text()).toContain('"reason":"wrong_ip"');
    expect(lineup.logs.text()).not.toContain(token);
  });
});
