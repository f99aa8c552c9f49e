import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { askFlussonic, askNginx, backendLineup, requestUri, subscriberWithLinks, tokenOf } from './support.js';

let lineup: TestLineup;
let links: Map<string, string>;

beforeAll(async () => {
  lineup = await startTestLineup();
  await backendLineup(lineup);
  ({ links } = await subscriberWithLinks(lineup, 'alice', ['--max-connections', '3']));
});
afterAll(() => lineup.close());

describe('the auth backend endpoints', () => {
  it('when a backend origin is in the lineup, then its links carry a Lineup token and the default origin keeps its securetoken', async () => {
    expect([...links.keys()].sort()).toEqual(['kids', 'live/sport', 'movies', 'music', 'news']);
    expect(tokenOf(links.get('news')!)).toMatch(/^[\w-]{6}\.\d+\.\d+\.[\w-]{8}\.[0-9a-f]{8}\.[\w-]{22}$/);
  });

  it('when nginx asks with a valid token from the address it was issued to, then 204 names the subscriber', async () => {
    const response = await askNginx(lineup, requestUri(links.get('news')!));
    expect(response.status).toBe(204);
    expect(Number(response.headers['x-userid'])).toBeGreaterThan(0);
    const segment = requestUri(links.get('news')!).replace('index.m3u8', 'segment-17.ts');
    expect((await askNginx(lineup, segment)).status).toBe(204);
  });

  it('when nginx asks without a token, then 401; from another address, then 403', async () => {
    expect((await askNginx(lineup, '/hls/news/index.m3u8')).status).toBe(401);
    expect((await askNginx(lineup, requestUri(links.get('news')!), '127.0.0.9')).status).toBe(403);
  });

  it('when nginx’s path is spelled otherwise (past the fast path, through koa), then the answer is the same', async () => {
    const uri = requestUri(links.get('news')!);
    const refusals = () =>
      lineup.logs.lines.filter((line) => line.includes('"path":"/auth/nginx"') && line.includes('"reason":"wrong_ip"')).length;
    const before = refusals();
    for (const path of ['/auth/nginx', '/AUTH/nginx', '/auth//nginx', '/auth/nginx?x=1']) {
      const allowed = await fetchFrom(`${lineup.url}${path}`, { headers: { 'X-Original-URI': uri, 'X-Real-IP': '127.0.0.1' } });
      expect([path, allowed.status, allowed.headers['x-userid'] !== undefined]).toEqual([path, 204, true]);
      const refused = await fetchFrom(`${lineup.url}${path}`, { headers: { 'X-Original-URI': uri, 'X-Real-IP': '127.0.0.9' } });
      expect([path, refused.status, refused.body]).toEqual([path, 403, 'Forbidden\n']);
    }
    expect(refusals() - before).toBe(4);
  });

  it('when Flussonic asks, then 200 with X-AuthDuration, X-UserId and X-Max-Sessions', async () => {
    const response = await askFlussonic(lineup, {
      name: 'live/sport',
      ip: '127.0.0.1',
      token: tokenOf(links.get('live/sport')!),
      session_id: 'f-1',
    });
    expect(response.status).toBe(200);
    expect(response.headers['x-authduration']).toBe('60');
    expect(Number(response.headers['x-userid'])).toBeGreaterThan(0);
    expect(response.headers['x-max-sessions']).toBe('3');
  });

  it('when Cesbo asks with its headers, then 200; with the token of another stream’s URL on a stream outside the packages, then 403', async () => {
    const uri = requestUri(links.get('movies')!);
    const allowed = await fetchFrom(`${lineup.url}/auth/cesbo`, {
      headers: { 'X-Real-IP': '127.0.0.1', 'X-Real-Path': uri, 'X-Session-ID': 'c-1' },
    });
    expect(allowed.status).toBe(200);
    const premium = `/hls/premium/index.m3u8?token=${tokenOf(links.get('movies')!)}`;
    const refused = await fetchFrom(`${lineup.url}/auth/cesbo`, {
      headers: { 'X-Real-Ip': '127.0.0.1', 'X-Real-Path': premium, 'X-Session-Id': 'c-2' },
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toBe('Forbidden\n');
    expect(lineup.logs.text()).toContain('"reason":"not_entitled"');
  });
});
