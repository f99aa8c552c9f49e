import { afterEach, describe, expect, it } from 'vitest';
import { applySql } from '../core/support.js';
import { fetchFrom, onServer } from '../helpers/lineup.js';
import { type ApiLineup, startApiLineup } from './api-client.js';

const DAY = 86_400;
const T0 = Date.UTC(2027, 0, 10, 12, 0, 0) / 1000;
const isoAt = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`;

let lineup: ApiLineup | undefined;
afterEach(async () => {
  await lineup?.close();
  lineup = undefined;
});

/** A clock the test moves. */
function movableClock(start = T0) {
  let now = start;
  return { clock: () => now, advance: (seconds: number) => (now += seconds) };
}

const PACKAGES_SQL = `
  INSERT INTO packages (name) VALUES ('basic'), ('sports');
  INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1), ('match', 'Match', 2);
  INSERT INTO package_channels (package_id, channel_id) VALUES ((SELECT id FROM packages WHERE name = 'sports'), (SELECT id FROM channels WHERE stream = 'match'));`;

describe('admin API: subscribers', () => {
  it('when a subscriber is created, then the answer holds a playlist URL that works, and later reads never show it', async () => {
    const { clock } = movableClock();
    lineup = await startApiLineup({ clock });
    await applySql(lineup, PACKAGES_SQL);
    const created = await lineup.api('POST', '/api/v1/subscribers', {
      body: { username: 'alice', days: 30, packages: ['sports'], max_connections: 2, note: 'crm-17' },
    });
    expect(created.status).toBe(201);
    expect(created.json.subscriber).toMatchObject({
      username: 'alice',
      state: 'active',
      expires_at: isoAt(T0 + 30 * DAY),
      enabled: true,
      max_connections: 2,
      note: 'crm-17',
      packages: ['sports'],
      has_key: true,
    });
    expect(created.json.xtream.username).toBe('alice');
    const login = await fetchFrom(
      `${lineup.url}/player_api.php?username=alice&password=${encodeURIComponent(created.json.xtream.password)}`,
    );
    expect(JSON.parse(login.body).user_info.auth).toBe(1);
    const playlist = await fetchFrom(onServer(lineup, created.json.playlist_url));
    expect(playlist.status).toBe(200);
    expect(playlist.body).toContain('Match');

    const read = await lineup.api('GET', '/api/v1/subscribers/alice');
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.json)).not.toContain(new URL(created.json.playlist_url).pathname.split('/').at(-1)!.slice(0, 24));
    expect(read.json).toEqual(created.json.subscriber);
    expect(JSON.stringify(read.json)).not.toContain(created.json.xtream.password);
  });

  it('when a request breaks the contract, then it is a problem+json 4xx with a stable type, and nothing is made', async () => {
    lineup = await startApiLineup();
    const cases: Array<[unknown, number, string]> = [
      [{ username: 'bob', days: 3, colour: 'red' }, 400, 'invalid-request'],
      [{ username: 'bob', days: 3, until: '2099-01-01' }, 400, 'invalid-request'],
      [{ username: 'b o b' }, 400, 'invalid-request'],
      [{ username: 'Live' }, 400, 'invalid-request'],
      [{ username: 'bob', days: 0 }, 400, 'invalid-request'],
      [{ username: 'bob', max_connections: 1001 }, 400, 'invalid-request'],
      [{ username: 'bob', until: '2001-01-01' }, 400, 'invalid-request'],
      [{ username: 'bob', until: '2027-02-30' }, 400, 'invalid-request'],
      [{ username: 'bob', packages: ['nope'] }, 400, 'invalid-request'],
      ['{"username": ', 400, 'invalid-request'],
    ];
    for (const [body, status, type] of cases) {
      const answer = await lineup.api('POST', '/api/v1/subscribers', { body });
      expect([JSON.stringify(body), answer.status]).toEqual([JSON.stringify(body), status]);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(answer.json).toMatchObject({ type: `urn:lineup:problem:${type}`, status });
      expect(answer.json.detail).not.toBe('');
    }
    expect((await lineup.api('GET', '/api/v1/subscribers')).json.items).toEqual([]);
    expect((await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'bob' } })).status).toBe(201);
    const taken = await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'bob' } });
    expect(taken.json).toMatchObject({ type: 'urn:lineup:problem:conflict', status: 409 });
    const missing = await lineup.api('GET', '/api/v1/subscribers/nobody');
    expect(missing.json).toMatchObject({ type: 'urn:lineup:problem:not-found', status: 404 });
    const unknownQuery = await lineup.api('GET', '/api/v1/subscribers?colour=red');
    expect(unknownQuery.json).toMatchObject({ type: 'urn:lineup:problem:invalid-request', status: 400 });
    const notJson = await lineup.api('POST', '/api/v1/subscribers', { body: 'username=bob', headers: { 'Content-Type': 'text/plain' } });
    expect(notJson.json).toMatchObject({ type: 'urn:lineup:problem:unsupported-media-type', status: 415 });
  });

  it('when subscribers are listed with filters, then each filter narrows the list and the cursor walks it without gaps', async () => {
    const { clock, advance } = movableClock();
    lineup = await startApiLineup({ clock });
    await applySql(lineup, PACKAGES_SQL);
    for (const [username, days, packages] of [
      ['ann', 1, ['sports']],
      ['anna', 10, []],
      ['bert', 20, ['basic']],
      ['carl', 40, ['sports', 'basic']],
      ['dora', 2, []],
    ] as const) {
      expect((await lineup.api('POST', '/api/v1/subscribers', { body: { username, days, packages } })).status).toBe(201);
    }
    expect((await lineup.api('PATCH', '/api/v1/subscribers/bert', { body: { enabled: false } })).status).toBe(200);
    advance(3 * DAY);
    const names = async (query: string) =>
      ((await lineup!.api('GET', `/api/v1/subscribers${query}`)).json.items as Array<{ username: string }>).map((s) => s.username);
    expect(await names('')).toEqual(['ann', 'anna', 'bert', 'carl', 'dora']);
    expect(await names('?state=expired')).toEqual(['ann', 'dora']);
    expect(await names('?state=disabled')).toEqual(['bert']);
    expect(await names('?state=active')).toEqual(['anna', 'carl']);
    expect(await names('?package=sports')).toEqual(['ann', 'carl']);
    expect(await names('?username_prefix=ann')).toEqual(['ann', 'anna']);
    expect(await names(`?expires_before=${encodeURIComponent('2027-01-25 00:00:00')}`)).toEqual(['ann', 'anna', 'dora']);
    expect(await names('?state=active&package=basic')).toEqual(['carl']);

    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Array<{ username: string }>; next_cursor: string | null } = (
        await lineup.api('GET', `/api/v1/subscribers?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).json;
      expect(page.items.length).toBeLessThanOrEqual(2);
      walked.push(...page.items.map((s) => s.username));
      cursor = page.next_cursor;
    } while (cursor);
    expect(walked).toEqual(['ann', 'anna', 'bert', 'carl', 'dora']);
    expect((await lineup.api('GET', '/api/v1/subscribers?cursor=%21%21')).status).toBe(400);
    expect((await lineup.api('GET', '/api/v1/subscribers?limit=501')).status).toBe(400);
  });

  it('when a lapsed line is renewed, then the days count from now; an active one, from its expiry; a date sets it', async () => {
    const { clock, advance } = movableClock();
    lineup = await startApiLineup({ clock });
    await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'late', days: 1 } });
    await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'early', days: 30 } });
    advance(10 * DAY);
    const late = await lineup.api('POST', '/api/v1/subscribers/late/renew', { body: { days: 5 } });
    expect(late.json).toMatchObject({ state: 'active', expires_at: isoAt(T0 + 15 * DAY) });
    const early = await lineup.api('POST', '/api/v1/subscribers/early/renew', { body: { days: 5 } });
    expect(early.json.expires_at).toBe(isoAt(T0 + 35 * DAY));
    const dated = await lineup.api('POST', '/api/v1/subscribers/early/renew', { body: { until: '2027-06-30' } });
    expect(dated.json.expires_at).toBe('2027-06-30T23:59:59Z');
    const past = await lineup.api('POST', '/api/v1/subscribers/early/renew', { body: { until: '2027-01-01' } });
    expect(past.json).toMatchObject({ status: 400, type: 'urn:lineup:problem:invalid-request' });
    expect(past.json.detail).toMatch(/^until: /);
    expect((await lineup.api('POST', '/api/v1/subscribers/early/renew', { body: {} })).status).toBe(400);
    expect((await lineup.api('POST', '/api/v1/subscribers/ghost/renew', { body: { days: 1 } })).status).toBe(404);
  });

  it('when a subscriber is suspended, changed, rotated and deleted, then its playlist follows each step', async () => {
    lineup = await startApiLineup();
    await applySql(lineup, PACKAGES_SQL);
    const created = await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'eve', days: 30 } });
    const url = onServer(lineup, created.json.playlist_url);

    const suspended = await lineup.api('PATCH', '/api/v1/subscribers/eve', { body: { enabled: false } });
    expect(suspended.json).toMatchObject({ state: 'disabled', enabled: false });
    expect((await fetchFrom(url)).status).toBe(403);
    expect((await lineup.api('PATCH', '/api/v1/subscribers/eve', { body: { enabled: true } })).json.state).toBe('active');
    expect((await fetchFrom(url)).status).toBe(200);

    const changed = await lineup.api('PATCH', '/api/v1/subscribers/eve', {
      body: { packages: ['sports', 'basic'], max_connections: 3, note: 'upgraded' },
    });
    expect(changed.json).toMatchObject({ packages: ['basic', 'sports'], max_connections: 3, note: 'upgraded' });
    // All or nothing: an unknown package leaves the note as it was.
    const refused = await lineup.api('PATCH', '/api/v1/subscribers/eve', { body: { note: 'lost', packages: ['nope'] } });
    expect(refused.status).toBe(400);
    expect((await lineup.api('GET', '/api/v1/subscribers/eve')).json).toMatchObject({ note: 'upgraded', packages: ['basic', 'sports'] });

    const rotated = await lineup.api('POST', '/api/v1/subscribers/eve/rotate-key');
    expect(rotated.status).toBe(200);
    expect((await fetchFrom(url)).status).toBe(403);
    const newUrl = onServer(lineup, rotated.json.playlist_url);
    expect((await fetchFrom(newUrl)).status).toBe(200);

    const deleted = await lineup.api('DELETE', '/api/v1/subscribers/eve');
    expect(deleted.status).toBe(204);
    expect((await lineup.api('GET', '/api/v1/subscribers/eve')).status).toBe(404);
    expect((await fetchFrom(newUrl)).status).toBe(410);
    expect((await lineup.api('DELETE', '/api/v1/subscribers/eve')).status).toBe(404);
  });

  it('when packages, channels and lint findings are read, then they show the lineup as SQL left it', async () => {
    lineup = await startApiLineup();
    await applySql(lineup, `${PACKAGES_SQL}\nINSERT INTO channels (stream, name, number) VALUES ('dup', 'Dup', 1);`);
    await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'fan', packages: ['sports'] } });
    expect((await lineup.api('GET', '/api/v1/packages')).json.items).toEqual([
      { name: 'basic', description: '', channels: 0, subscribers: 0 },
      { name: 'sports', description: '', channels: 1, subscribers: 1 },
    ]);
    const channels = (await lineup.api('GET', '/api/v1/channels')).json.items;
    expect(channels.map((c: { stream: string; packages: string[] }) => [c.stream, c.packages])).toEqual([
      ['dup', []],
      ['news', []],
      ['match', ['sports']],
    ]);
    const findings = (await lineup.api('GET', '/api/v1/lint')).json.items;
    expect(findings).toContainEqual(expect.objectContaining({ severity: 'error', code: 'duplicate-number' }));
  });

  it('when a package still holds channels, then deleting it is refused, and the API shows it unchanged', async () => {
    lineup = await startApiLineup();
    await applySql(lineup, PACKAGES_SQL);
    const { writeFileSync } = await import('node:fs');
    const file = `${lineup.dir}/drop.sql`;
    writeFileSync(file, "DELETE FROM packages WHERE name = 'sports';");
    const refused = await lineup.cli(['sql', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/a package that still holds channels cannot be deleted/);
    expect((await lineup.api('GET', '/api/v1/packages')).json.items.map((p: { name: string }) => p.name)).toEqual(['basic', 'sports']);
  });
});
