import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/open.js';
import { PlaylistIpStore } from '../../src/db/playlist-ip-store.js';
import { PlaylistIps } from '../../src/subscribers/playlist-ips.js';
import { execOn, fetchFrom, startTestLineup, type TestLineup, tempDir } from '../helpers/lineup.js';
import { addSubscriber, applySql } from './support.js';

/** A clock the test moves by hand. */
function handClock(start: number) {
  const clock = () => clock.now;
  clock.now = start;
  return clock;
}

// 2026-11-28 12:00:00 UTC: a multiple of 300, so that bucket boundaries are easy to stand on.
const NOON = 1_795_867_200;
const TTL = 3600;

let lineup: TestLineup | undefined;
afterEach(async () => {
  await lineup?.close();
  lineup = undefined;
});

async function start(env: NodeJS.ProcessEnv = {}) {
  const clock = handClock(NOON);
  lineup = await startTestLineup({ env: { TOKEN_TTL: String(TTL), TOKEN_BUCKET: '300', ...env }, clock });
  await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1), ('live/sport', 'Sport', 2);");
  return { lineup, clock };
}

interface Row {
  username: string;
  ip: string;
  first_seen: string;
  last_seen: string;
  buckets: number;
}

function rows(dbPath: string): Row[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db
      .prepare(
        'SELECT s.username, p.ip, p.first_seen, p.last_seen, p.buckets FROM playlist_ips p JOIN subscribers s ON s.id = p.subscriber_id ORDER BY s.username, p.ip',
      )
      .all() as Row[];
  } finally {
    db.close();
  }
}

/** The queued fetches reach the file within the flush interval (a second). */
async function writtenRows(dbPath: string, count: number): Promise<Row[]> {
  return vi.waitFor(
    () => {
      const found = rows(dbPath);
      expect(found).toHaveLength(count);
      return found;
    },
    { timeout: 5000, interval: 50 },
  );
}

describe('playlist addresses, recorded once per subscriber, address and bucket', () => {
  it('when a playlist is fetched many times from two addresses within a bucket, then one row per address is written, once each', async () => {
    const { lineup } = await start();
    const url = await addSubscriber(lineup, 'alice', '--days', '30');
    const totalChanges = lineup.context.db.prepare('SELECT total_changes()').pluck();
    const before = totalChanges.get() as number;
    for (let i = 0; i < 20; i++) expect((await fetchFrom(url)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await fetchFrom(url, { localAddress: '127.0.0.2' })).status).toBe(200);
    expect(await writtenRows(lineup.dbPath, 2)).toEqual([
      { username: 'alice', ip: '127.0.0.1', first_seen: '2026-11-28 12:00:00', last_seen: '2026-11-28 12:00:00', buckets: 1 },
      { username: 'alice', ip: '127.0.0.2', first_seen: '2026-11-28 12:00:00', last_seen: '2026-11-28 12:00:00', buckets: 1 },
    ]);
    // 25 fetches, two rows inserted: nothing else was written on the server's connection.
    expect((totalChanges.get() as number) - before).toBe(2);
  });

  it('when a later bucket fetches again, then the row moves its last_seen and counts one more bucket', async () => {
    const { lineup, clock } = await start();
    const url = await addSubscriber(lineup, 'alice', '--days', '30');
    await fetchFrom(url);
    await writtenRows(lineup.dbPath, 1);
    clock.now += 299;
    await fetchFrom(url);
    clock.now += 1;
    await fetchFrom(url);
    await vi.waitFor(() => expect(rows(lineup.dbPath)[0]).toMatchObject({ last_seen: '2026-11-28 12:05:00', buckets: 2 }), {
      timeout: 5000,
    });
    expect(rows(lineup.dbPath)[0]?.first_seen).toBe('2026-11-28 12:00:00');
  });

  it('when the addresses are written, then the lineup is not compiled again: a refresh still gets its 304', async () => {
    const { lineup } = await start();
    const url = await addSubscriber(lineup, 'alice', '--days', '30');
    const first = await fetchFrom(url);
    await writtenRows(lineup.dbPath, 1);
    const again = await fetchFrom(url, { headers: { 'If-None-Match': String(first.headers.etag) } });
    expect(again.status).toBe(304);
  });

  it('when a subscriber is deleted before its fetch is written, then the others of the batch are written all the same', async () => {
    const { lineup } = await start();
    const alice = await addSubscriber(lineup, 'alice', '--days', '30');
    const bob = await addSubscriber(lineup, 'bob', '--days', '30');
    await fetchFrom(alice);
    await fetchFrom(bob);
    // Behind the server's back, before its one-second flush.
    execOn(lineup.dbPath, "DELETE FROM subscribers WHERE username = 'alice'");
    expect((await writtenRows(lineup.dbPath, 1))[0]?.username).toBe('bob');
  });

  it('when one queued fetch breaks a CHECK of the table, then the others of its batch are written all the same', () => {
    const { dir, cleanup } = tempDir();
    const db = openDatabase(`${dir}/lineup.db`);
    try {
      db.exec("INSERT INTO subscribers (username, expires_at) VALUES ('alice', '2030-01-01 00:00:00')");
      const at = '2026-11-28 12:00:00';
      new PlaylistIpStore(db).record([
        { subscriberId: 1, ip: 'x'.repeat(46), at },
        { subscriberId: 1, ip: '192.0.2.1', at },
      ]);
      expect(db.prepare('SELECT ip FROM playlist_ips').pluck().all()).toEqual(['192.0.2.1']);
    } finally {
      db.close();
      cleanup();
    }
  });

  it('when another process holds the write lock (a prune chunk), then the batch is refused at once and stays queued until the lock is free', async () => {
    const { lineup, clock } = await start();
    await fetchFrom(await addSubscriber(lineup, 'alice', '--days', '30'));
    const holder = new Database(lineup.dbPath);
    holder.exec('BEGIN IMMEDIATE');
    try {
      // The busy timeout is 5 s: waiting for the lock would hold the server's event loop that long.
      const started = performance.now();
      lineup.context.playlistIps.flush();
      expect(performance.now() - started).toBeLessThan(1000);
      expect(rows(lineup.dbPath)).toEqual([]);
    } finally {
      holder.exec('COMMIT');
      holder.close();
    }
    clock.now += 1;
    lineup.context.playlistIps.flush();
    expect(rows(lineup.dbPath).map((row) => row.username)).toEqual(['alice']);
  });

  it('when `lineup render` prints a playlist, then no address is recorded for it', async () => {
    const { lineup } = await start();
    await addSubscriber(lineup, 'alice', '--days', '30');
    const result = await lineup.cli(['render', 'alice', '--ip', '192.0.2.1']);
    expect(result.code).toBe(0);
    lineup.context.playlistIps.flush();
    expect(rows(lineup.dbPath)).toEqual([]);
  });
});

describe('lineup report sharing and subscriber show', () => {
  async function sharedWorld() {
    const started = await start();
    const alice = await addSubscriber(started.lineup, 'alice', '--days', '30');
    const bob = await addSubscriber(started.lineup, 'bob', '--days', '30', '--max-connections', '2');
    await fetchFrom(alice);
    await fetchFrom(alice, { localAddress: '127.0.0.2' });
    await fetchFrom(alice, { localAddress: '127.0.0.3' });
    await fetchFrom(bob);
    await fetchFrom(bob, { localAddress: '127.0.0.2' });
    await writtenRows(started.lineup.dbPath, 5);
    return started;
  }

  it('when one subscription was fetched from more addresses than its max_connections, then the report lists it and not the one within its limit', async () => {
    const { lineup } = await sharedWorld();
    const table = await lineup.cli(['report', 'sharing']);
    expect(table.code).toBe(0);
    expect(table.stderr).toBe('');
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('1 subscription fetched from more addresses than their max connections since 2026-11-27 12:00:00 UTC:');
    expect(lines[1]).toMatch(/^USERNAME +MAX CONN +ADDRESSES +LAST SEEN \(UTC\) +IPS \(LATEST FIRST\)$/);
    expect(lines[2]?.split(/ {2,}/)).toEqual(['alice', '1', '3', '2026-11-28 12:00:00', '127.0.0.1 127.0.0.2 127.0.0.3']);
    expect(lines).toHaveLength(3);

    const json = await lineup.cli(['report', 'sharing', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        username: 'alice',
        maxConnections: 1,
        addresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((ip) => ({
          ip,
          firstSeen: '2026-11-28 12:00:00',
          lastSeen: '2026-11-28 12:00:00',
          buckets: 1,
        })),
      },
    ]);
  });

  it('when the fetches are more than 24 h old, then the report no longer lists them', async () => {
    const { lineup, clock } = await sharedWorld();
    clock.now += 86_400 + 1;
    const result = await lineup.cli(['report', 'sharing']);
    expect(result.stdout).toBe('no subscription was fetched from more addresses than its max connections since 2026-11-28 12:00:01 UTC\n');
    expect(JSON.parse((await lineup.cli(['report', 'sharing', '--json'])).stdout)).toEqual([]);
  });

  it('when `subscriber show` names a subscriber, then it lists the addresses of the last 24 h in a block of their own', async () => {
    const { lineup } = await sharedWorld();
    const shown = await lineup.cli(['subscriber', 'show', 'alice']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^alice: active, expires .*, max connections 1$/m);
    const block = shown.stdout.split('\n\n')[1]!.trimEnd().split('\n');
    expect(block[0]).toBe('playlist fetched from, last 24 h: 3 addresses, more than its 1 max connections');
    expect(block[1]).toMatch(/^IP +FIRST SEEN \(UTC\) +LAST SEEN \(UTC\) +BUCKETS$/);
    expect(block.slice(2).map((line) => line.split(/ {2,}/))).toEqual(
      ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((ip) => [ip, '2026-11-28 12:00:00', '2026-11-28 12:00:00', '1']),
    );
    const quiet = await addSubscriber(lineup, 'carol', '--days', '30');
    expect(quiet).toBeTruthy();
    expect((await lineup.cli(['subscriber', 'show', 'carol'])).stdout).toContain('\nplaylist fetched from, last 24 h: none\n');

    const json = JSON.parse((await lineup.cli(['subscriber', 'show', 'bob', '--json'])).stdout) as {
      username: string;
      state: string;
      maxConnections: number;
      playlistAddresses: { ip: string }[];
    };
    expect(json).toMatchObject({ username: 'bob', state: 'active', maxConnections: 2 });
    expect(json.playlistAddresses.map((address) => address.ip)).toEqual(['127.0.0.1', '127.0.0.2']);
  });

  it('when `subscriber show` names nobody, then it fails with one line naming the user', async () => {
    const { lineup } = await start();
    const result = await lineup.cli(['subscriber', 'show', 'nobody']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('nobody');
  });

  it('when `report` names no or an unknown report, then it fails with one line', async () => {
    const { lineup } = await start();
    for (const argv of [['report'], ['report', 'sharingg'], ['report', 'sharing', 'extra']]) {
      const result = await lineup.cli(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr.trimEnd().split('\n'), argv.join(' ')).toHaveLength(1);
    }
  });
});

describe('PLAYLIST_IP_LIMIT', () => {
  it('when a subscription with one connection is fetched from a second address, then that fetch gets 403 with a reason, and the first address keeps working', async () => {
    const { lineup } = await start({ PLAYLIST_IP_LIMIT: '1' });
    const url = await addSubscriber(lineup, 'alice', '--days', '30');
    expect((await fetchFrom(url)).status).toBe(200);
    const refused = await fetchFrom(url, { localAddress: '127.0.0.2' });
    expect(refused.status).toBe(403);
    expect(refused.body).toBe(
      'This playlist has been fetched from more places than your subscription allows. Use it on your own devices only, or contact your provider.\n',
    );
    expect(refused.body).not.toContain('127.0.0.');
    // Refused again within the bucket, from memory, and never recorded.
    expect((await fetchFrom(url, { localAddress: '127.0.0.2' })).status).toBe(403);
    expect((await fetchFrom(url)).status).toBe(200);
    expect(rows(lineup.dbPath).map((row) => row.ip)).toEqual(['127.0.0.1']);
  });

  it('when max_connections is 2 and the limit 1, then two addresses are served and the third refused', async () => {
    const { lineup } = await start({ PLAYLIST_IP_LIMIT: '1' });
    const url = await addSubscriber(lineup, 'bob', '--days', '30', '--max-connections', '2');
    expect((await fetchFrom(url)).status).toBe(200);
    expect((await fetchFrom(url, { localAddress: '127.0.0.2' })).status).toBe(200);
    expect((await fetchFrom(url, { localAddress: '127.0.0.3' })).status).toBe(403);
  });

  it('when the first address has not fetched for TOKEN_TTL, then a new address is let in', async () => {
    const { lineup, clock } = await start({ PLAYLIST_IP_LIMIT: '1' });
    const url = await addSubscriber(lineup, 'alice', '--days', '30');
    expect((await fetchFrom(url)).status).toBe(200);
    clock.now += TTL - 300;
    expect((await fetchFrom(url, { localAddress: '127.0.0.2' })).status).toBe(403);
    clock.now += 301;
    expect((await fetchFrom(url, { localAddress: '127.0.0.2' })).status).toBe(200);
    // And now the first one is the newcomer.
    expect((await fetchFrom(url)).status).toBe(403);
  });

  it('when another process (a worker) records an address on the same database, then this server counts it', async () => {
    const { lineup } = await start({ PLAYLIST_IP_LIMIT: '1' });
    const url = await addSubscriber(lineup, 'alice', '--days', '30');
    const other = openDatabase(lineup.dbPath, { create: false });
    try {
      const id = other.prepare("SELECT id FROM subscribers WHERE username = 'alice'").pluck().get() as number;
      const worker = new PlaylistIps(new PlaylistIpStore(other), () => NOON, {
        bucketSeconds: 300,
        perConnection: 1,
        windowSeconds: TTL,
        keepSeconds: 7 * 86_400,
        flushMs: 1000,
        onWriteError: (error) => {
          throw error;
        },
      });
      worker.note({ id, maxConnections: 1 }, '198.51.100.7', NOON);
      expect((await fetchFrom(url)).status).toBe(403);
      worker.stop();
    } finally {
      other.close();
    }
  });

  it('when the limit is off (the default), then every address is served and recorded', async () => {
    const { lineup } = await start();
    const url = await addSubscriber(lineup, 'alice', '--days', '30');
    for (const localAddress of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) expect((await fetchFrom(url, { localAddress })).status).toBe(200);
    await writtenRows(lineup.dbPath, 3);
  });

  it('when PLAYLIST_IP_LIMIT is not a whole number from 1, then the start fails naming it', () => {
    expect(loadConfig({}).playlistIpLimit).toBeUndefined();
    expect(loadConfig({ PLAYLIST_IP_LIMIT: 'off' }).playlistIpLimit).toBeUndefined();
    expect(loadConfig({ PLAYLIST_IP_LIMIT: ' 2 ' }).playlistIpLimit).toBe(2);
    for (const value of ['0', 'on', '-1', '1.5', '1001'])
      expect(() => loadConfig({ PLAYLIST_IP_LIMIT: value }), value).toThrow(/^PLAYLIST_IP_LIMIT /);
  });
});
