import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchFrom } from '../helpers/lineup.js';
import { type ApiLineup, startApiLineup } from './api-client.js';

let lineups: ApiLineup[] = [];
afterEach(async () => {
  for (const lineup of lineups) await lineup.close();
  lineups = [];
});

async function start(env: NodeJS.ProcessEnv = {}): Promise<ApiLineup> {
  const lineup = await startApiLineup({ env });
  lineups.push(lineup);
  return lineup;
}

const daysBetween = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / 86_400_000;

describe('admin API: idempotency, concurrency, tokens and the audit trail', () => {
  it('when one create is sent twice at once with one Idempotency-Key, then one subscriber is made and both get the first answer', async () => {
    const lineup = await start();
    const send = () =>
      lineup.api('POST', '/api/v1/subscribers', { body: { username: 'twice', days: 30 }, headers: { 'Idempotency-Key': 'order-4711' } });
    const [first, second] = await Promise.all([send(), send()]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.json).toEqual(first.json);
    expect([first.headers.get('idempotent-replayed'), second.headers.get('idempotent-replayed')].sort()).toEqual(['true', null].sort());
    const later = await send();
    expect(later.json.playlist_url).toBe(first.json.playlist_url);
    expect((await lineup.api('GET', '/api/v1/subscribers')).json.items).toHaveLength(1);

    const other = await lineup.api('POST', '/api/v1/subscribers', {
      body: { username: 'twice', days: 31 },
      headers: { 'Idempotency-Key': 'order-4711' },
    });
    expect(other.status).toBe(422);
    expect(other.json.type).toBe('urn:lineup:problem:idempotency-key-reused');
    // The same body with its fields in another order is the same request.
    const reordered = await lineup.api('POST', '/api/v1/subscribers', {
      body: '{"days": 30, "username": "twice"}',
      headers: { 'Idempotency-Key': 'order-4711' },
    });
    expect(reordered.status).toBe(201);
    // A renewal retried with its key is applied once.
    const renew = () =>
      lineup.api('POST', '/api/v1/subscribers/twice/renew', { body: { days: 10 }, headers: { 'Idempotency-Key': 'renew-1' } });
    const once = await renew();
    const again = await renew();
    expect(again.json.expires_at).toBe(once.json.expires_at);
    expect(daysBetween(first.json.subscriber.expires_at, (await lineup.api('GET', '/api/v1/subscribers/twice')).json.expires_at)).toBe(10);
    expect(
      (await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'x' }, headers: { 'Idempotency-Key': 'a b' } })).status,
    ).toBe(400);
  });

  it('when a retry comes within 24 hours, then it gets the first answer; two days on, the key is forgotten', async () => {
    let now = Date.UTC(2027, 0, 10) / 1000;
    const lineup = await startApiLineup({ clock: () => now });
    lineups.push(lineup);
    const create = (username: string) =>
      lineup.api('POST', '/api/v1/subscribers', { body: { username }, headers: { 'Idempotency-Key': 'k-1' } });
    const first = await create('kept');
    now += 23 * 3600 + 3599;
    const retry = await create('kept');
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.json).toEqual(first.json);
    expect((await create('other')).status).toBe(422);
    now += 2 * 86_400;
    // The next write that stores a key sweeps the old ones.
    await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'sweeper' }, headers: { 'Idempotency-Key': 'k-2' } });
    expect((await create('other')).status).toBe(201);
  });

  it('when two clients renew one line at once, the API and the CLI, then no renewal is lost', async () => {
    const lineup = await start();
    const created = await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'busy', days: 30 } });
    const { spawn } = await import('node:child_process');
    const { LINEUP_BIN } = await import('../build-once.js');
    // The CLI in processes of its own: its read and write interleave with the server's unless each renewal is one transaction.
    const cli = Array.from(
      { length: 6 },
      () =>
        new Promise<number | null>((resolve) =>
          spawn(process.execPath, [LINEUP_BIN, 'subscriber', 'renew', 'busy', '--days', '1'], {
            env: { ...process.env, ...lineup.env },
            stdio: 'ignore',
          }).on('exit', resolve),
        ),
    );
    const api = Array.from({ length: 12 }, () => lineup.api('POST', '/api/v1/subscribers/busy/renew', { body: { days: 1 } }));
    expect(await Promise.all(cli)).toEqual(Array(6).fill(0));
    expect((await Promise.all(api)).map((answer) => answer.status)).toEqual(Array(12).fill(200));
    const final = (await lineup.api('GET', '/api/v1/subscribers/busy')).json;
    expect(daysBetween(created.json.subscriber.expires_at, final.expires_at)).toBe(18);
  }, 120_000);

  it('when a read-only token writes, then it is refused with 403 and nothing changes; it still reads', async () => {
    const lineup = await start();
    const reader = await lineup.addToken('dashboard', '--read-only');
    expect((await lineup.api('GET', '/api/v1/subscribers', { token: reader })).status).toBe(200);
    const refused = await lineup.api('POST', '/api/v1/subscribers', { token: reader, body: { username: 'sneaky' } });
    expect(refused.status).toBe(403);
    expect(refused.json.type).toBe('urn:lineup:problem:forbidden');
    expect((await lineup.api('GET', '/api/v1/subscribers/sneaky')).status).toBe(404);
    const listed = await lineup.cli(['api-token', 'list']);
    expect(listed.stdout).toMatch(/^billing {2}read-write/m);
    expect(listed.stdout).toMatch(/^dashboard {2}read-only/m);
    expect(listed.stdout).not.toContain(reader);
  });

  it('when tokens are missing, wrong or revoked, then 401; wrong ones and bad playlist keys share one guess budget', async () => {
    const lineup = await start({ GUESS_LIMIT: '3' });
    const none = await lineup.api('GET', '/api/v1/subscribers', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const doomed = await lineup.addToken('doomed');
    expect((await lineup.api('GET', '/api/v1/subscribers', { token: doomed })).status).toBe(200);
    expect((await lineup.cli(['api-token', 'revoke', 'doomed'])).code).toBe(0);
    expect((await lineup.api('GET', '/api/v1/subscribers', { token: doomed })).status).toBe(401);
    // Two wrong playlist keys on the public listener, then wrong tokens: the fourth failure blocks.
    for (const key of ['AAAAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBBBB']) {
      expect((await fetchFrom(`${lineup.url}/playlist/${key}.m3u`)).status).toBe(404);
    }
    expect((await lineup.api('GET', '/api/v1/subscribers', { token: 'lineup_wrong' })).status).toBe(401);
    const blocked = await lineup.api('GET', '/api/v1/subscribers');
    expect(blocked.status).toBe(429);
    expect(blocked.json.type).toBe('urn:lineup:problem:too-many-requests');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(lineup.logs.text()).not.toContain(lineup.token);
  });

  it('when the API, the CLI and lineup sql change a subscriber, then each leaves audit rows naming it, without keys or tokens', async () => {
    const lineup = await start();
    const created = await lineup.api('POST', '/api/v1/subscribers', { body: { username: 'audited', days: 30 } });
    await lineup.api('PATCH', '/api/v1/subscribers/audited', { body: { enabled: false } });
    expect((await lineup.cli(['subscriber', 'renew', 'audited', '--days', '5'])).code).toBe(0);
    expect((await lineup.cli(['subscriber', 'rotate', 'audited'])).code).toBe(0);
    const script = join(lineup.dir, 'note.sql');
    writeFileSync(script, "UPDATE subscribers SET note = 'via sql' WHERE username = 'audited';");
    expect((await lineup.cli(['sql', script])).code).toBe(0);
    await lineup.api('DELETE', '/api/v1/subscribers/audited');

    const audit = await lineup.cli(['audit', '--user', 'audited', '--json']);
    expect(audit.code).toBe(0);
    const entries = JSON.parse(audit.stdout) as Array<{
      actor: string;
      action: string;
      before: Record<string, unknown>;
      after: Record<string, unknown>;
    }>;
    expect(entries.map((entry) => [entry.actor, entry.action])).toEqual([
      ['api:billing', 'insert'],
      ['api:billing', 'update'],
      ['cli', 'update'],
      ['cli', 'update'],
      ['sql', 'update'],
      ['api:billing', 'delete'],
    ]);
    expect(entries[1]!.before.enabled).toBe(true);
    expect(entries[1]!.after.enabled).toBe(false);
    expect(entries[3]!.after.key_rotated).toBe(true);
    expect(entries[4]!.after.note).toBe('via sql');

    const text = await lineup.cli(['audit', '--since', '2000-01-01']);
    expect(text.stdout).toMatch(/api:billing {2}insert subscriber audited/);
    expect(text.stdout).toMatch(/cli {2}insert api_token billing/);
    expect((await lineup.cli(['audit', '--since', '2000-02-30'])).stderr).toMatch(/^lineup: --since: /);
    const overApi = await lineup.api('GET', '/api/v1/audit?username=audited');
    expect(overApi.json.items).toHaveLength(6);

    const db = new Database(lineup.dbPath, { readonly: true });
    const everything = JSON.stringify(db.prepare('SELECT * FROM audit_log').all());
    const hashes = db.prepare('SELECT token_hash FROM api_tokens').pluck().all() as string[];
    db.close();
    const key = new URL(created.json.playlist_url).pathname
      .split('/')
      .at(-1)!
      .replace(/\.m3u$/, '');
    for (const secret of [key, lineup.token, ...hashes]) expect(everything).not.toContain(secret);
  });
});
