import type Database from 'better-sqlite3';
import type { Db } from './open.js';

/**
 * A synchronous connection as the stores that both backends share use it (the import, the lint
 * reader, the demo's removal, the sharing report): SQL that reads the same on SQLite and
 * PostgreSQL, with `?` placeholders. SQLite's is below; PostgreSQL's (db/pg/sql-session.ts) runs
 * over the admin commands' synchronous connection. So the rules are written once.
 */
export interface SqlSession {
  all<T>(sql: string, params?: readonly unknown[]): T[];
  /** Rows the statement changed. */
  run(sql: string, params?: readonly unknown[]): number;
  /**
   * `work` in one write transaction that waits for Lineup's other writers (BEGIN IMMEDIATE on
   * SQLite, the writers' advisory lock on PostgreSQL), rolled back if it throws; within another,
   * a part of it that is undone alone.
   */
  write<T>(work: () => T): T;
  /** A collation clause that orders text as SQLite does, byte by byte (`''` on SQLite). */
  readonly byteOrder: string;
}

const sessions = new WeakMap<Db, SqlSession>();

/** `db` as an SqlSession; its statements are prepared once each. */
export function sqliteSession(db: Db): SqlSession {
  let session = sessions.get(db);
  if (session) return session;
  const prepared = new Map<string, Database.Statement>();
  const statement = (sql: string) => {
    let made = prepared.get(sql);
    if (!made) prepared.set(sql, (made = db.prepare(sql)));
    return made;
  };
  session = {
    all: <T>(sql: string, params: readonly unknown[] = []) => statement(sql).all(...params) as T[],
    run: (sql, params = []) => statement(sql).run(...params).changes,
    write: (work) => db.transaction(work).immediate(),
    byteOrder: '',
  };
  sessions.set(db, session);
  return session;
}
