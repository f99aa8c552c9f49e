import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrations.js';
import { type Db, openDatabase } from '../../src/db/open.js';
import { tempDir } from '../helpers/lineup.js';

let dir: ReturnType<typeof tempDir>;
let db: Db;

beforeAll(() => {
  dir = tempDir('lineup-origins-');
  db = openDatabase(join(dir.dir, 'lineup.db'));
  db.exec(`INSERT INTO origins (name, base_url, scheme, secret) VALUES ('cdn', 'http://cdn.test', 'backend', 's');
           INSERT INTO channels (stream, origin) VALUES ('news', 'cdn');`);
});
afterAll(() => {
  db.close();
  dir.cleanup();
});

describe('the origins table rebuilt for the backend scheme', () => {
  it('when the database is open after the migration, then foreign keys are on again and still guard origins', () => {
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(() => db.exec("DELETE FROM origins WHERE name = 'cdn'")).toThrow(/FOREIGN KEY/);
    db.exec("UPDATE origins SET name = 'edge' WHERE name = 'cdn'");
    expect(db.prepare("SELECT origin FROM channels WHERE stream = 'news'").pluck().get()).toBe('edge');
    expect(() => db.exec("INSERT INTO channels (stream, origin) VALUES ('x', 'nowhere')")).toThrow(/FOREIGN KEY/);
  });

  it('when channels reference the table, then their schema still names origins', () => {
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'channels'").pluck().get() as string;
    expect(sql).toMatch(/REFERENCES origins \(name\)/);
    expect(db.pragma('foreign_key_check')).toEqual([]);
  });

  it('when previous_secret is empty, then SQLite refuses it', () => {
    expect(() => db.exec("UPDATE origins SET previous_secret = '' WHERE name = 'edge'")).toThrow(/CHECK/);
  });

  it('when a database that another program opened without foreign keys holds a broken reference, then a reopen still migrates and starts', () => {
    const path = join(dir.dir, 'older.db');
    const raw = new Database(path);
    migrate(raw, 6);
    raw.pragma('foreign_keys = OFF');
    raw.exec(`INSERT INTO channels (stream, origin) VALUES ('orphan', 'gone');`);
    raw.close();
    const reopened = openDatabase(path);
    expect(reopened.pragma('user_version', { simple: true })).toBe(db.pragma('user_version', { simple: true }));
    expect(reopened.prepare("SELECT count(*) FROM channels WHERE stream = 'orphan'").pluck().get()).toBe(1);
    reopened.close();
  });
});
