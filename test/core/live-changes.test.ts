import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineupStore } from '../../src/db/lineup-store.js';
import { type Db, openDatabase } from '../../src/db/open.js';
import { fetchFrom, startTestLineup, type TestLineup, tempDir } from '../helpers/lineup.js';
import { addSubscriber, applySql, expectAllTokensValid, parsePlaylist } from './support.js';

let lineup: TestLineup;
let url: string;
const names = async () => parsePlaylist((await fetchFrom(url)).body).map((entry) => entry.name);

beforeAll(async () => {
  lineup = await startTestLineup();
  await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1);");
  url = await addSubscriber(lineup, 'alice');
  expect(await names()).toEqual(['One']); // warms the compiled-lineup cache
});
afterAll(() => lineup.close());

describe('changes made outside the service', () => {
  it('when a second better-sqlite3 connection writes, then the very next response shows it', async () => {
    const db = new Database(lineup.dbPath);
    try {
      db.prepare("INSERT INTO channels (stream, name, number) VALUES ('two', 'Two', 2)").run();
      expect(await names()).toEqual(['One', 'Two']);
      db.prepare("UPDATE channels SET name = 'Renamed' WHERE stream = 'one'").run();
      expect(await names()).toEqual(['Renamed', 'Two']);
      db.prepare("DELETE FROM channels WHERE stream = 'two'").run();
      expect(await names()).toEqual(['Renamed']);
    } finally {
      db.close();
    }
  });

  it('when lineup sql runs (the CLI on its own connection), then the very next response shows it', async () => {
    await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('three', 'Three', 3);");
    const { body } = await fetchFrom(url);
    expect(parsePlaylist(body).map((entry) => entry.name)).toEqual(['Renamed', 'Three']);
    expectAllTokensValid(body, '127.0.0.1');
  });

  it('when the sqlite3 shell in a child process writes, then the very next response shows it', async () => {
    execFileSync('sqlite3', [lineup.dbPath, "UPDATE channels SET enabled = 0 WHERE stream = 'three';"]);
    expect(await names()).toEqual(['Renamed']);
  });

  it('when a subscriber is disabled through another connection, then the very next response is 403', async () => {
    const db = new Database(lineup.dbPath);
    db.prepare("UPDATE subscribers SET enabled = 0 WHERE username = 'alice'").run();
    expect((await fetchFrom(url)).status).toBe(403);
    db.prepare("UPDATE subscribers SET enabled = 1 WHERE username = 'alice'").run();
    db.close();
    expect((await fetchFrom(url)).status).toBe(200);
  });

  it('when a subscriber gains a package through another connection, then its channels appear at once', async () => {
    const db = new Database(lineup.dbPath);
    db.exec(`
      INSERT INTO packages (name) VALUES ('gold');
      INSERT INTO channels (stream, name, number) VALUES ('gold/one', 'Gold', 9);
      INSERT INTO package_channels SELECT p.id, c.id FROM packages p, channels c WHERE p.name = 'gold' AND c.stream = 'gold/one';`);
    expect(await names()).toEqual(['Renamed']);
    db.exec(
      "INSERT INTO subscriber_packages SELECT s.id, p.id FROM subscribers s, packages p WHERE s.username = 'alice' AND p.name = 'gold'",
    );
    db.close();
    expect(await names()).toEqual(['Renamed', 'Gold']);
  });
});

describe('the change check', () => {
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  let dir: ReturnType<typeof tempDir>;
  let own: Db;
  let other: Database.Database;
  let store: LineupStore;

  beforeAll(() => {
    dir = tempDir();
    own = openDatabase(join(dir.dir, 'lineup.db'));
    other = new Database(join(dir.dir, 'lineup.db'));
    store = new LineupStore(own);
  });
  afterAll(() => {
    other.close();
    own.close();
    dir.cleanup();
  });

  it('when this connection writes, then the marker moves at once, within the same turn', () => {
    const before = store.changeMarkerValue();
    own.prepare("INSERT INTO channels (stream, name) VALUES ('own', 'Own')").run();
    expect(store.changeMarkerValue()).not.toBe(before);
  });

  it('when lineup_version has lost its row, then every write of this connection moves the marker at once, activity too', () => {
    own.exec("INSERT INTO subscribers (username, expires_at) VALUES ('rowless', '2030-01-01 00:00:00')");
    const subscriberId = own.prepare("SELECT id FROM subscribers WHERE username = 'rowless'").pluck().get() as number;
    own.exec('DELETE FROM lineup_version');
    try {
      const before = store.changeMarkerValue();
      own
        .prepare(
          "INSERT INTO playlist_ips (subscriber_id, ip, first_seen, last_seen) VALUES (?, '192.0.2.9', '2026-11-28 12:00:00', '2026-11-28 12:00:00')",
        )
        .run(subscriberId);
      const afterActivity = store.changeMarkerValue();
      expect(afterActivity).not.toBe(before);
      own.prepare("INSERT INTO channels (stream, name) VALUES ('rowless', 'Rowless')").run();
      expect(store.changeMarkerValue()).not.toBe(afterActivity);
    } finally {
      own.exec('INSERT INTO lineup_version (id, version) VALUES (1, 100)');
    }
    const restored = store.changeMarkerValue();
    own.prepare("UPDATE channels SET name = 'Rowless again' WHERE stream = 'rowless'").run();
    expect(store.changeMarkerValue()).not.toBe(restored);
  });

  it('when another connection commits, then the marker moves from the next turn: SQLite is asked once per turn', async () => {
    await nextTurn();
    const before = store.changeMarkerValue();
    other.prepare("INSERT INTO channels (stream, name) VALUES ('other', 'Other')").run();
    expect(store.changeMarkerValue()).toBe(before);
    await nextTurn();
    expect(store.changeMarkerValue()).not.toBe(before);
  });
});
