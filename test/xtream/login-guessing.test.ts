import { afterEach, describe, expect, it } from 'vitest';
import { applySql } from '../core/support.js';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addXcSubscriber, playerApi } from './support.js';

let lineup: TestLineup | undefined;
afterEach(async () => {
  await lineup?.close();
  lineup = undefined;
});

async function start(limit: number): Promise<TestLineup> {
  lineup = await startTestLineup({ env: { GUESS_LIMIT: String(limit), GUESS_WINDOW: '600', GUESS_BLOCK: '900' } });
  await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1);");
  return lineup;
}

describe('XC logins and the key-guess limiter', () => {
  it('when an app retries one wrong login in a burst (pyxtream: three times), then the burst counts once, and the right login then works', async () => {
    const lineup = await start(2);
    const { password } = await addXcSubscriber(lineup, 'alice');
    for (let attempt = 0; attempt < 8; attempt++) {
      expect((await playerApi(lineup, { username: 'alice', password: 'typo-pass1' })).status).toBe(401);
    }
    expect((await playerApi(lineup, { username: 'alice', password })).status).toBe(200);
    const channel = lineup.context.db.prepare('SELECT id FROM channels').pluck().get();
    expect((await fetchFrom(`${lineup.url}/live/alice/${password}/${channel}.ts`)).status).toBe(302);
  });

  it('when different wrong logins come from one address, then past GUESS_LIMIT it is answered 429 before any lookup, on every XC path and on playlists', async () => {
    const lineup = await start(2);
    const { password } = await addXcSubscriber(lineup, 'alice');
    for (const guess of ['guess00001', 'guess00002', 'guess00003']) {
      expect((await playerApi(lineup, { username: 'alice', password: guess })).status).toBe(401);
    }
    const blocked = await playerApi(lineup, { username: 'alice', password });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await fetchFrom(`${lineup.url}/live/alice/${password}/1.ts`)).status).toBe(429);
    expect((await fetchFrom(`${lineup.url}/get.php?username=alice&password=${password}`)).status).toBe(429);
    expect((await fetchFrom(`${lineup.url}/playlist/${'x'.repeat(24)}.m3u`)).status).toBe(429);
    // Another address is not touched.
    expect((await playerApi(lineup, { username: 'alice', password }, '127.0.0.2')).status).toBe(200);
  });

  it('when wrong logins and unknown playlist keys mix, then they count toward the one limit', async () => {
    const lineup = await start(2);
    await addXcSubscriber(lineup, 'alice');
    expect((await fetchFrom(`${lineup.url}/playlist/${'a'.repeat(24)}.m3u`)).status).toBe(404);
    expect((await fetchFrom(`${lineup.url}/live/alice/wrongpass1/1.ts`)).status).toBe(401);
    expect((await playerApi(lineup, { username: 'nobody', password: 'wrongpass2' })).status).toBe(401);
    expect((await fetchFrom(`${lineup.url}/playlist/${'b'.repeat(24)}.m3u`)).status).toBe(429);
  });
});
