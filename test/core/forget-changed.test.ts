import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuthSubject, RememberedSubjects } from '../../src/auth/auth-subjects.js';
import { LineupStore } from '../../src/db/lineup-store.js';
import { type Db, openDatabase } from '../../src/db/open.js';
import { PlaylistIpStore } from '../../src/db/playlist-ip-store.js';
import { SubscriberChangeStore } from '../../src/db/subscriber-change-store.js';
import { SubscriberStore } from '../../src/db/subscriber-store.js';
import type { AccessSource } from '../../src/subscribers/access.js';
import { pruneLapsed } from '../../src/subscribers/prune.js';
import { RememberedAccess, SubscriberChangeFollower } from '../../src/subscribers/remembered-access.js';
import type { SubscriberAccess } from '../../src/subscribers/subscriber.js';
import { tempDir } from '../helpers/lineup.js';

const NOW = Date.parse('2026-12-03T12:00:00Z') / 1000;
const clock = () => NOW;
const hashOf = (name: string) => Buffer.from(name.padEnd(32, '.')).toString('hex');
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
/** Over SQLite, a lookup answers at once, never with a promise. */
function atHand(found: SubscriberAccess | undefined | Promise<unknown>): SubscriberAccess | undefined {
  if (found instanceof Promise) throw new Error('a SQLite lookup answered with a promise');
  return found;
}

/**
 * The server's parts over a real SQLite file: its own connection's subscriber store, counted, behind
 * RememberedAccess, with the generation moved as LineupCache moves it; and a second connection
 * writing as another process (the CLI, another worker) would.
 */
describe('remembered subscribers: forget exactly who changed', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let own: Db;
  let other: Db;
  let asked: string[];
  let remembered: RememberedAccess;
  let subjects: RememberedSubjects;
  let askedIds: number[];

  beforeEach(() => {
    dir = tempDir();
    path = `${dir.dir}/lineup.db`;
    own = openDatabase(path);
    other = openDatabase(path);
    other.exec("INSERT INTO packages (name) VALUES ('basic'), ('sports')");
    const add = other.prepare("INSERT INTO subscribers (username, key_hash, expires_at) VALUES (?, ?, '2027-01-01 00:00:00') RETURNING id");
    for (const name of ['alice', 'bob', 'carol', 'dave']) {
      const id = add.pluck().get(name, hashOf(name)) as number;
      other.prepare('INSERT INTO subscriber_packages (subscriber_id, package_id) VALUES (?, 1)').run(id);
    }
    const store = new SubscriberStore(own, { days: 30, clock });
    asked = [];
    const counted: AccessSource = {
      findAccess: (keyHash) => {
        asked.push(keyHash);
        return store.findAccess(keyHash);
      },
      retiredReason: (keyHash) => store.retiredReason(keyHash),
      findAccessByUsername: (username) => store.findAccessByUsername(username),
    };
    const lineup = new LineupStore(own);
    let marker: string | undefined;
    let generation = 0;
    const currentGeneration = () => {
      const now = lineup.changeMarkerValue();
      if (now !== marker) generation++;
      marker = now;
      return generation;
    };
    remembered = new RememberedAccess(counted, new SubscriberChangeFollower(new SubscriberChangeStore(own), currentGeneration), 100);
    askedIds = [];
    const countedById = {
      findAuthSubject: (id: number) => {
        askedIds.push(id);
        return store.findAuthSubject(id);
      },
    };
    subjects = new RememberedSubjects(countedById, new SubscriberChangeFollower(new SubscriberChangeStore(own), currentGeneration), 100);
  });

  afterEach(() => {
    other.close();
    own.close();
    dir.cleanup();
  });

  /** Finds every one of `names`, and returns which of them had to be looked up. */
  async function findAll(names: string[]) {
    await nextTurn();
    asked = [];
    const found = new Map(names.map((name) => [name, atHand(remembered.findAccess(hashOf(name)))]));
    return { looked: asked.map((hash) => names.find((name) => hashOf(name) === hash)), found };
  }

  it.each([
    ['a renewal', "UPDATE subscribers SET expires_at = '2028-01-01 00:00:00' WHERE username = 'bob'"],
    ['a disable', "UPDATE subscribers SET enabled = 0 WHERE username = 'bob'"],
    ['a package added', "INSERT INTO subscriber_packages (subscriber_id, package_id) SELECT id, 2 FROM subscribers WHERE username = 'bob'"],
    ['a package removed', "DELETE FROM subscriber_packages WHERE subscriber_id = (SELECT id FROM subscribers WHERE username = 'bob')"],
    ['more connections', "UPDATE subscribers SET max_connections = 3 WHERE username = 'bob'"],
  ])(
    'when %s is written by another connection, then the very next find sees it and only that subscriber is looked up again',
    async (_, sql) => {
      await findAll(['alice', 'bob', 'carol']);
      other.exec(sql);
      const after = other.prepare('SELECT enabled, expires_at, max_connections FROM subscribers WHERE username = ?').get('bob') as {
        enabled: number;
        expires_at: string;
        max_connections: number;
      };
      const packages = other
        .prepare("SELECT count(*) FROM subscriber_packages WHERE subscriber_id = (SELECT id FROM subscribers WHERE username = 'bob')")
        .pluck()
        .get();
      const { looked, found } = await findAll(['alice', 'bob', 'carol']);
      expect(looked).toEqual(['bob']);
      expect(found.get('bob')).toMatchObject({
        enabled: after.enabled === 1,
        expiresAt: after.expires_at,
        maxConnections: after.max_connections,
      });
      expect(found.get('bob')?.packageIds).toHaveLength(packages as number);
    },
  );

  it('when another connection rotates a key, then the old key finds nobody at once and the new one finds the subscriber', async () => {
    await findAll(['alice', 'bob']);
    other.prepare("UPDATE subscribers SET key_hash = ? WHERE username = 'bob'").run(hashOf('bob-new'));
    const { looked, found } = await findAll(['alice', 'bob']);
    expect(looked).toEqual(['bob']);
    expect(found.get('bob')).toBeUndefined();
    expect(atHand(remembered.findAccess(hashOf('bob-new')))?.username).toBe('bob');
    expect(remembered.retiredReason(hashOf('bob'))).toBe('rotated');
  });

  it('when another connection removes a subscriber or deletes its package, then that subscriber alone is looked up again', async () => {
    await findAll(['alice', 'bob', 'carol']);
    other.exec("DELETE FROM subscribers WHERE username = 'bob'");
    let { looked, found } = await findAll(['alice', 'bob', 'carol']);
    expect(looked).toEqual(['bob']);
    expect(found.get('bob')).toBeUndefined();
    // A package's deletion removes its links by cascade: every holder is forgotten, nobody else.
    other.exec("INSERT INTO subscriber_packages (subscriber_id, package_id) SELECT id, 2 FROM subscribers WHERE username = 'carol'");
    await findAll(['alice', 'carol']);
    other.exec("DELETE FROM packages WHERE name = 'sports'");
    ({ looked, found } = await findAll(['alice', 'carol']));
    expect(looked).toEqual(['carol']);
    expect(found.get('carol')?.packageIds).toEqual([1]);
  });

  it('when the sqlite3 shell in a child process disables a subscriber, then the very next find sees it and the others cost no lookup', async () => {
    await findAll(['alice', 'bob', 'carol']);
    execFileSync('sqlite3', [path, "UPDATE subscribers SET enabled = 0 WHERE username = 'carol';"]);
    const { looked, found } = await findAll(['alice', 'bob', 'carol']);
    expect(looked).toEqual(['carol']);
    expect(found.get('carol')?.enabled).toBe(false);
  });

  it('when another connection writes a batch of playlist addresses or a note, then no subscriber is looked up again', async () => {
    await findAll(['alice', 'bob']);
    new PlaylistIpStore(other).record([
      { subscriberId: 1, ip: '192.0.2.1', at: '2026-12-03 12:00:00' },
      { subscriberId: 2, ip: '192.0.2.2', at: '2026-12-03 12:00:00' },
    ]);
    other.exec("UPDATE subscribers SET note = 'called' WHERE username = 'alice'");
    const { looked } = await findAll(['alice', 'bob']);
    expect(looked).toEqual([]);
  });

  it('when a prune chunk by another connection deletes lapsed subscribers, then those alone are forgotten', async () => {
    other.exec("UPDATE subscribers SET expires_at = '2026-01-01 00:00:00' WHERE username IN ('bob', 'dave')");
    await findAll(['alice', 'bob', 'carol', 'dave']);
    const result = pruneLapsed(new SubscriberStore(other, { days: 30, clock }), clock, 0, { chunkSize: 1 });
    expect(result.usernames).toEqual(['bob', 'dave']);
    const { looked, found } = await findAll(['alice', 'bob', 'carol', 'dave']);
    expect(looked).toEqual(['bob', 'dave']);
    expect(found.get('bob')).toBeUndefined();
    expect(found.get('alice')?.username).toBe('alice');
  });

  it('when the log is trimmed past what the server read, then every subscriber is forgotten', async () => {
    await findAll(['alice', 'bob', 'carol']);
    other.exec("UPDATE subscribers SET enabled = 0 WHERE username = 'bob'");
    expect(new SubscriberStore(other, { days: 30, clock }).trimChangeLog(0)).toBeGreaterThan(0);
    const { looked, found } = await findAll(['alice', 'bob', 'carol']);
    expect(looked).toEqual(['alice', 'bob', 'carol']);
    expect(found.get('bob')?.enabled).toBe(false);
    // And from there on, the log tells again.
    other.exec("UPDATE subscribers SET enabled = 0 WHERE username = 'carol'");
    expect((await findAll(['alice', 'bob', 'carol'])).looked).toEqual(['carol']);
  });

  it('when rows the server has not read are deleted by hand, or the log is dropped, then every subscriber is forgotten', async () => {
    await findAll(['alice', 'bob']);
    // Rows it has read already may go: nothing is lost.
    other.exec('DELETE FROM subscriber_changes');
    other.exec("UPDATE subscribers SET enabled = 0 WHERE username = 'bob'");
    expect((await findAll(['alice', 'bob'])).looked).toEqual(['bob']);
    other.exec("UPDATE subscribers SET enabled = 1 WHERE username = 'bob'; DELETE FROM subscriber_changes");
    expect((await findAll(['alice', 'bob'])).looked).toEqual(['alice', 'bob']);
    other.exec(
      "DROP TRIGGER subscribers_update_logs_change; DROP TABLE subscriber_changes; UPDATE subscribers SET enabled = 0 WHERE username = 'bob'",
    );
    const { looked, found } = await findAll(['alice', 'bob']);
    expect(looked).toEqual(['alice', 'bob']);
    expect(found.get('bob')?.enabled).toBe(false);
  });

  it('when another connection disables a subscriber, then a stream check looks that one up again and no other', async () => {
    for (const id of [1, 2, 3, 99]) subjects.find(id);
    other.exec(
      "UPDATE subscribers SET enabled = 0 WHERE id = 2; INSERT INTO playlist_ips (subscriber_id, ip, first_seen, last_seen) VALUES (1, '192.0.2.9', '2026-12-03 12:00:00', '2026-12-03 12:00:00')",
    );
    await nextTurn();
    askedIds = [];
    // SQLite answers at once: no promise among them.
    const found = [1, 2, 3, 99].map((id) => subjects.find(id) as AuthSubject | undefined);
    expect(askedIds).toEqual([2]);
    expect(found[1]?.enabled).toBe(false);
    expect(found[3]).toBeUndefined();
  });
});
