import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../errors.js';
import { installAuditTriggers } from './audit-triggers.js';
import { migrate } from './migrations.js';
import { isPostgresUrl } from './pg/url.js';

export type Db = Database.Database;

/** How long a statement waits for another writer (an admin script, say) before giving up. */
const BUSY_TIMEOUT_MS = 5000;

/** SQLite gave up on a lock that another connection holds: temporary, nothing wrong with the work. */
export function isDatabaseBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

/**
 * SQLite could not make sense of the file: a damaged page, or not a database at all. Not temporary,
 * but the request was not at fault either: the HTTP layer answers 503, as for a database out of reach.
 */
export function isDatabaseDamaged(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/**
 * A read-only file that is already in WAL mode and migrated opens and reads fine; it would fail
 * only at the first prune or admin write. A write that is rolled back finds out at start, without
 * a commit (other connections see no change) and without waiting: a lock held by someone else
 * means the file is being written, so it is writable.
 */
export function assertWritable(db: Db): void {
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

/**
 * Runs `write` with no busy timeout: SQLITE_BUSY at once while another connection holds the write
 * lock. For writes a server makes in its event loop that can wait for a later turn (a batch of
 * playlist addresses, a trim of the change log): waiting for the lock there holds every request,
 * up to the busy timeout, behind another process's long write such as a prune chunk.
 */
export function withoutWaiting<T>(db: Db, write: () => T): T {
  const patience = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    return write();
  } finally {
    db.pragma(`busy_timeout = ${patience}`);
  }
}

/** Which file a connection opened: `/healthz` compares it with what LINEUP_DB names now. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

const openedFiles = new WeakMap<Db, FileIdentity>();

/** The device and inode of the file `db` was opened on, taken right after the open; none for `:memory:`. */
export function openedFileIdentity(db: Db): FileIdentity | undefined {
  return openedFiles.get(db);
}

/** The device and inode LINEUP_DB names now; undefined when nothing is there. */
export function fileIdentityAt(path: string): FileIdentity | undefined {
  const stats = statSync(path, { throwIfNoEntry: false });
  return stats && { dev: stats.dev, ino: stats.ino };
}

/**
 * SQLite takes a zero-length file for a new, empty database, and the server would seed it: a file
 * truncated by a full disk or a failed copy would quietly become a fresh lineup with no subscribers.
 */
function refuseEmptyFile(path: string): void {
  let size: number | undefined;
  try {
    size = statSync(path).size;
  } catch {
    return; // missing, or a path through a file: the open says why, naming LINEUP_DB
  }
  if (size !== 0) return;
  throw new ConfigError(
    `LINEUP_DB: ${path} is an empty file (0 bytes), not a Lineup database: restore a backup there (lineup db restore FILE), or remove it to start afresh`,
  );
}

/**
 * Refuses a file (`name`, as the message calls it) that SQLite opens but that is not Lineup's
 * (tables, and no Lineup schema version: another program's database, which migrating would mix
 * Lineup's tables into), and, when asked, a damaged one. `quick_check` reads every page once,
 * without cross-checking indexes as `integrity_check` does, so it grows with the file only
 * (milliseconds for a lineup of thousands); `(1)` stops at the first problem.
 */
export function assertLineupDatabase(db: Db, name: string, { integrity }: { integrity: boolean }): void {
  if (integrity) {
    const problem = db.pragma('quick_check(1)', { simple: true }) as string;
    if (problem !== 'ok') {
      throw new ConfigError(
        `${name} is damaged (quick_check: ${problem.replace(/\s*\n\s*/g, '; ')}): restore a backup (lineup db restore FILE)`,
      );
    }
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number;
  if (version === 0 && tables > 0) {
    throw new ConfigError(`${name} is an SQLite database but not Lineup's (${tables} tables, no Lineup schema version)`);
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

/**
 * Opens and migrates the database, creating it first if asked to. Refuses an empty file and a
 * foreign one; the server and `lineup init` (create) also run `quick_check`, so that a damaged
 * file stops the start with one line rather than answering errors later.
 */
export function openDatabase(path: string, { create = true }: OpenOptions = {}): Db {
  let db: Db;
  // Not a file name: opening it would make a file called postgres:…
  if (isPostgresUrl(path))
    throw new ConfigError('LINEUP_DB: this part of Lineup does not run on PostgreSQL yet (LINEUP_DB is a postgres:// URL)');
  if (path !== ':memory:') refuseEmptyFile(path);
  try {
    if (create && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { fileMustExist: !create });
    // Taken before anything else can happen to the path: the file this connection reads.
    if (path !== ':memory:') openedFiles.set(db, fileIdentityAt(path)!);
    db.pragma('journal_mode = WAL');
  } catch (error) {
    throw new ConfigError(`LINEUP_DB: cannot open ${path}: ${(error as Error).message}`);
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  try {
    assertLineupDatabase(db, `LINEUP_DB: ${path}`, { integrity: create && path !== ':memory:' });
  } catch (error) {
    db.close();
    throw error;
  }
  try {
    migrate(db);
    assertWritable(db);
    installAuditTriggers(db);
  } catch (error) {
    db.close();
    throw new ConfigError(`LINEUP_DB: cannot migrate or write ${path}: ${(error as Error).message}`);
  }
  return db;
}
