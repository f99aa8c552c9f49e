import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { LineupStore } from '../../src/db/lineup-store.js';
import { openDatabase } from '../../src/db/open.js';
import { PlaylistIpStore } from '../../src/db/playlist-ip-store.js';
import { tempDir } from '../helpers/lineup.js';

describe('lineup_version: only lineup changes recompile', () => {
  it('when playlist_ips is written, then the change marker stays; when a channel or a subscriber changes, it moves', async () => {
    const { dir, cleanup } = tempDir();
    const path = `${dir}/lineup.db`;
    const own = openDatabase(path);
    const other = new Database(path);
    try {
      const store = new LineupStore(own);
      const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
      const before = store.changeMarkerValue();
      other.exec("INSERT INTO subscribers (username, expires_at) VALUES ('alice', '2030-01-01 00:00:00')");
      await nextTurn();
      const afterSubscriber = store.changeMarkerValue();
      expect(afterSubscriber).not.toBe(before);
      new PlaylistIpStore(own).record([{ subscriberId: 1, ip: '192.0.2.1', at: '2026-11-28 12:00:00' }]);
      other.exec(
        "INSERT INTO playlist_ips (subscriber_id, ip, first_seen, last_seen) VALUES (1, '192.0.2.2', '2026-11-28 12:00:00', '2026-11-28 12:00:00')",
      );
      await nextTurn();
      expect(store.changeMarkerValue()).toBe(afterSubscriber);
      other.exec("UPDATE channels SET name = 'x' WHERE 0; INSERT INTO channels (stream, name) VALUES ('news', 'News')");
      await nextTurn();
      expect(store.changeMarkerValue()).not.toBe(afterSubscriber);
    } finally {
      other.close();
      own.close();
      cleanup();
    }
  });

  /**
   * A new table is either read by playlists and their access rules (then it gets the three
   * triggers that move lineup_version, in its own migration), or listed here.
   */
  const NOT_READ_BY_PLAYLISTS = [
    'settings',
    'channel_imports',
    'pruned_subscribers',
    'lineup_version',
    'lineup_changes',
    'playlist_ips',
    'api_tokens',
    'idempotency_keys',
    'audit_log',
    // Written only with subscribers and their packages, which move lineup_version themselves.
    'subscriber_changes',
    'subscriber_changes_trimmed',
  ];

  it('when the schema is migrated, then every table either moves lineup_version on each change or is known not to be read by playlists', () => {
    const db = openDatabase(':memory:');
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .pluck()
        .all() as string[];
      const triggers = db.prepare("SELECT tbl_name, sql FROM sqlite_schema WHERE type = 'trigger'").all() as {
        tbl_name: string;
        sql: string;
      }[];
      const unclassified = tables.filter((table) => {
        if (NOT_READ_BY_PLAYLISTS.includes(table)) return false;
        const moves = (event: string) =>
          triggers.some(
            (trigger) =>
              trigger.tbl_name === table && trigger.sql.includes(`AFTER ${event} ON ${table}`) && trigger.sql.includes('lineup_version'),
          );
        return !(moves('INSERT') && moves('UPDATE') && moves('DELETE'));
      });
      expect(unclassified).toEqual([]);
      expect(tables).toContain('channels');
    } finally {
      db.close();
    }
  });
});
