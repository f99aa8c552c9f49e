import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askNginx, backendLineup, linksOf, requestUri, subscriberWithLinks } from '../auth/support.js';
import { type ApiLineup, startApiLineup } from './api-client.js';

let lineup: ApiLineup;
let alicePlaylist: string;
beforeAll(async () => {
  lineup = await startApiLineup();
  await backendLineup(lineup);
  const alice = await subscriberWithLinks(lineup, 'alice');
  alicePlaylist = alice.playlistUrl;
  await subscriberWithLinks(lineup, 'bob');
  expect((await askNginx(lineup, requestUri(alice.links.get('news')!))).status).toBe(204);
}, 60_000);
afterAll(() => lineup?.close());

describe('admin API: sessions', () => {
  it("when sessions are listed and a subscriber's are closed, then its slot is free for another viewer at once", async () => {
    const listed = await lineup.api('GET', '/api/v1/sessions');
    expect(listed.status).toBe(200);
    expect(listed.json.items).toEqual([expect.objectContaining({ username: 'alice', ip: '127.0.0.1', stream: 'news', via: 'nginx' })]);
    expect((await lineup.api('GET', '/api/v1/sessions?username=bob')).json.items).toEqual([]);
    expect((await lineup.api('GET', '/api/v1/sessions?username=nobody')).status).toBe(404);

    // max_connections 1: a second address is refused while the first session counts.
    const elsewhere = await linksOf(alicePlaylist, '127.0.0.2');
    expect((await askNginx(lineup, requestUri(elsewhere.get('news')!), '127.0.0.2')).status).toBe(403);

    const closed = await lineup.api('DELETE', '/api/v1/subscribers/alice/sessions');
    expect(closed.status).toBe(200);
    expect(closed.json).toEqual({ closed: 1 });
    expect((await lineup.api('GET', '/api/v1/sessions?username=alice')).json.items).toEqual([]);
    expect((await askNginx(lineup, requestUri(elsewhere.get('news')!), '127.0.0.2')).status).toBe(204);

    const reader = await lineup.addToken('sessions-reader', '--read-only');
    expect((await lineup.api('DELETE', '/api/v1/subscribers/alice/sessions', { token: reader })).status).toBe(403);
  });
});
