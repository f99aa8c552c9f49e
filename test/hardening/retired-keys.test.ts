import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/time.js';
import { addSubscriber, applySql } from '../core/support.js';
import { fetchFrom, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { keyOf } from '../links/support.js';

/**
 * Why 8 of the first-day report, as the operator met it: an app kept refreshing the URL of a
 * subscriber who had been removed, 21 times from a CGNAT address, which got the address blocked
 * (429), and a paying neighbour behind the same address with it. Removed and pruned subscribers'
 * URLs are not guesses: they answer 410 and never count, for RETIRED_KEY_DAYS.
 */

const DAY = 86_400;
/** GUESS_LIMIT's default is 20: the 21st failure blocks. */
const FETCHES = 21;
/** The shared address of a CGNAT: the removed subscriber's app and a paying neighbour. */
const CGNAT = '127.0.0.2';

async function fetchRepeatedly(url: string, times: number, localAddress: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) statuses.push((await fetchFrom(url, { localAddress })).status);
  return statuses;
}

describe('a removed or pruned subscriber behind a shared address, with the default GUESS_LIMIT', () => {
  let lineup: TestLineup;
  beforeAll(async () => {
    lineup = await startTestLineup({ env: { PRUNE_GRACE_DAYS: '0' } });
    await applySql(lineup, "INSERT INTO channels (id, stream, name, number) VALUES (1, 'news', 'News', 1);");
  });
  afterAll(() => lineup.close());

  it('when a removed URL is fetched 21 times, then every answer is 410 and the paying neighbour behind the same address still gets 200', async () => {
    const neighbour = await addSubscriber(lineup, 'neighbour');
    const removed = await addSubscriber(lineup, 'moved-away');
    expect((await lineup.cli(['subscriber', 'remove', 'moved-away'])).code).toBe(0);
    expect(await fetchRepeatedly(removed, FETCHES, CGNAT)).toEqual(Array<number>(FETCHES).fill(410));
    const served = await fetchFrom(neighbour, { localAddress: CGNAT });
    expect(served.status).toBe(200);
    expect(served.body.startsWith('#EXTM3U')).toBe(true);
  });

  it("when a removed subscriber's /play links are followed 21 times, then 410 each time, and the neighbour's links still redirect", async () => {
    const neighbour = await addSubscriber(lineup, 'neighbour-play');
    const removed = await addSubscriber(lineup, 'moved-away-play');
    expect((await lineup.cli(['subscriber', 'remove', 'moved-away-play'])).code).toBe(0);
    const play = (url: string) => `${lineup.url}/play/${keyOf(url)}/1.m3u8`;
    expect(await fetchRepeatedly(play(removed), FETCHES, '127.0.0.4')).toEqual(Array<number>(FETCHES).fill(410));
    expect((await fetchFrom(play(neighbour), { localAddress: '127.0.0.4' })).status).toBe(302);
  });

  it('when a pruned URL is fetched 21 times, then every answer is 410 and the neighbour still gets 200', async () => {
    const neighbour = await addSubscriber(lineup, 'paying');
    const lapsed = await addSubscriber(lineup, 'stopped-paying', '--until', '2020-01-01', '--allow-past');
    expect((await fetchFrom(lapsed, { localAddress: '127.0.0.3' })).status).toBe(403);
    const pruned = await lineup.cli(['prune', '--verbose']);
    expect(pruned.stdout).toContain('deleted stopped-paying');
    expect(await fetchRepeatedly(lapsed, FETCHES, '127.0.0.3')).toEqual(Array<number>(FETCHES).fill(410));
    expect((await fetchFrom(neighbour, { localAddress: '127.0.0.3' })).status).toBe(200);
  });

  it('when keys that never existed are fetched 21 times from an address, then the neighbour there is blocked (the limit the others stayed under)', async () => {
    const neighbour = await addSubscriber(lineup, 'unlucky');
    const statuses = await fetchRepeatedly(`${lineup.url}/playlist/${'U'.repeat(24)}.m3u`, FETCHES, '127.0.0.5');
    expect(statuses).toEqual(Array<number>(FETCHES).fill(404));
    expect((await fetchFrom(neighbour, { localAddress: '127.0.0.5' })).status).toBe(429);
  });
});

describe('after RETIRED_KEY_DAYS (default 90)', () => {
  let lineup: TestLineup;
  // Keys retire by trigger, stamped with SQLite's own clock, so the injected one starts from the real one.
  const today = systemClock();
  let now = today;
  let removed: string;
  beforeAll(async () => {
    lineup = await startTestLineup({ clock: () => now, env: { GUESS_LIMIT: '3' } });
    removed = await addSubscriber(lineup, 'long-ago');
    expect((await lineup.cli(['subscriber', 'remove', 'long-ago'])).code).toBe(0);
  });
  afterAll(() => lineup.close());

  it('when 89 days have passed, then the removed URL still answers 410 and still does not count', async () => {
    now = today + 89 * DAY;
    expect(await fetchRepeatedly(removed, 5, '127.0.0.6')).toEqual([410, 410, 410, 410, 410]);
  });

  it('when 91 days have passed, then the key is an unknown key again: 404, counted like any guess', async () => {
    now = today + 91 * DAY;
    const gone = await fetchFrom(removed, { localAddress: '127.0.0.7' });
    expect(gone.status).toBe(404);
    expect(gone.body).toBe('No such playlist\n');
    // GUESS_LIMIT 3: the fourth failure blocks, and the next request is refused.
    expect(await fetchRepeatedly(removed, 4, '127.0.0.7')).toEqual([404, 404, 404, 429]);
  });

  it('when the prune job then runs, then it deletes the forgotten key', async () => {
    const pruned = await lineup.cli(['prune']);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain('forgot 1 retired key (older than RETIRED_KEY_DAYS, 90 days)');
  });
});
