import type { SqlSession } from '../sql-session.js';
import { numbered } from './placeholders.js';
import { SUBSCRIBER_WRITES_LOCK } from './subscriber-store.js';
import type { SyncPostgresClient } from './sync-client.js';

/**
 * SqlSession over the admin commands' synchronous connection: the shared SQL's `?` numbered, and
 * each write transaction queued on the lock that Lineup's subscriber writes take, as SQLite's
 * BEGIN IMMEDIATE queues every writer on the file. Its writes fire the change triggers, so every
 * node serving the database hears of them at commit.
 */
export function postgresSession(db: SyncPostgresClient): SqlSession {
  return {
    all: <T>(sql: string, params: readonly unknown[] = []) => db.query<T>(numbered(sql), params).rows,
    run: (sql, params = []) => db.query(numbered(sql), params).rowCount,
    write: (work) =>
      db.transaction(() => {
        // Held to the end of the outermost transaction; taking it again within one is free.
        db.query('SELECT pg_advisory_xact_lock($1)', [SUBSCRIBER_WRITES_LOCK]);
        return work();
      }),
    byteOrder: ' COLLATE "C"',
  };
}
