import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../errors.js';
import { migrate } from './migrations.js';

export type Db = Database.Database;

/** How long a statement waits for another writer (an admin script, say) before giving up. */
const BUSY_TIMEOUT_MS = 5000;

/** SQLite gave up on a lock that another connection holds: temporary, nothing wrong with the work. */
export function isDatabaseBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

/**
 * A read-only file that is already in WAL mode and migrated opens and reads fine; it would fail
 * only at the first prune or admin write. A write that is rolled back finds out at start, without
 * a commit (other connections see no change) and without waiting: a lock held by someone else
 * means the file is being written, so it is writable.
 */
function assertWritable(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    db.exec('BEGIN IMMEDIATE');
    db.pragma(`user_version = ${version}`);
  } catch (error) {
    if (!isDatabaseBusy(error)) throw error;
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}

export interface OpenOptions {
  /**
   * Create the file (and its directory) when it is missing: the server and `lineup init` do.
   * Admin commands do not, so that a command run with another LINEUP_DB than the server's fails
   * instead of working on a new, empty database.
   */
  create?: boolean;
}

/** Opens and migrates the database, creating it first if asked to. */
export function openDatabase(path: string, { create = true }: OpenOptions = {}): Db {
  let db: Db;
  try {
    if (create && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { fileMustExist: !create });
    db.pragma('journal_mode = WAL');
  } catch (error) {
    throw new ConfigError(`LINEUP_DB: cannot open ${path}: ${(error as Error).message}`);
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  try {
    migrate(db);
    assertWritable(db);
  } catch (error) {
    db.close();
    throw new ConfigError(`LINEUP_DB: cannot migrate or write ${path}: ${(error as Error).message}`);
  }
  return db;
}
