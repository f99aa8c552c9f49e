import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../errors.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';
import { assertLineupDatabase, type Db } from './open.js';
import { lockPathOf, serverHolding } from './server-lock.js';

/** What a backup or a restore holds, printed so that the operator sees it is the database they meant. */
export interface DatabaseCounts {
  subscribers: number;
  channels: number;
}

const countsOf = (db: Db): DatabaseCounts => ({
  subscribers: db.prepare('SELECT count(*) FROM subscribers').pluck().get() as number,
  channels: db.prepare('SELECT count(*) FROM channels').pluck().get() as number,
});

function refuseSameFile(file: string, dbPath: string): void {
  if (resolve(file) === resolve(dbPath)) throw new ConfigError(`${file} is LINEUP_DB itself: name another file`);
}

/**
 * SQLite's online backup: page by page from a read transaction, started again when another
 * connection writes meanwhile, so the copy is one consistent state even while the server runs,
 * WAL included (which `cp` of the file alone would leave behind). Written to a temp file and
 * renamed, so that a failed backup never leaves a half copy under FILE, nor spoils the last one.
 */
export async function backupDatabase(db: Db, dbPath: string, file: string): Promise<DatabaseCounts> {
  refuseSameFile(file, dbPath);
  const temp = `${file}.partial-${process.pid}`;
  try {
    await db.backup(temp);
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new ConfigError(`cannot back up to ${file}: ${(error as Error).message}`);
  }
  return withFile(file, (copy) => countsOf(copy));
}

function withFile<T>(file: string, body: (db: Db) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return body(db);
  } finally {
    db.close();
  }
}

/** Where `restoreDatabase` keeps the database it replaced (and its WAL, as `…-wal`). */
const previousPathOf = (dbPath: string) => `${dbPath}.before-restore`;

/**
 * Replaces the database at `dbPath` with `file`, while no server has it open:
 *
 * 1. `file` must be a sound Lineup database (quick_check, Lineup's schema version);
 * 2. it is copied with SQLite's backup (its own WAL included) to a temp file beside `dbPath`, so
 *    that the final step is a rename within one file system;
 * 3. the database it replaces is kept as `…before-restore`, its WAL with it;
 * 4. the old WAL and shared-memory files go first, then the rename: a WAL left beside the new file
 *    would be replayed over it at the next open (which is what `cp backup.db lineup.db` runs into).
 */
export async function restoreDatabase(file: string, dbPath: string): Promise<DatabaseCounts & { previous?: string }> {
  refuseSameFile(file, dbPath);
  if (!existsSync(file)) throw new ConfigError(`${file}: no such file`);
  if (statSync(file).size === 0) throw new ConfigError(`${file} is an empty file (0 bytes), not a Lineup database`);
  refuseWhileServing(dbPath);
  let source: Db;
  try {
    source = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new ConfigError(`cannot open ${file}: ${(error as Error).message}`);
  }
  mkdirSync(dirname(dbPath), { recursive: true });
  const temp = `${dbPath}.restore-${process.pid}`;
  let counts: DatabaseCounts;
  try {
    try {
      assertLineupDatabase(source, file, { integrity: true });
      const version = source.pragma('user_version', { simple: true }) as number;
      if (version === 0) throw new ConfigError(`${file} is an empty database, not a Lineup backup`);
      // Refused here, while the current database is still in place: swapped in, it would only be
      // refused by the server at its next start, with the operator's working database set aside.
      if (version > LATEST_SCHEMA_VERSION)
        throw new ConfigError(
          `${file} has schema version ${version}, newer than this Lineup's ${LATEST_SCHEMA_VERSION}: restore it with the Lineup release that wrote it`,
        );
      counts = countsOf(source);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`${file} is not a Lineup database: ${(error as Error).message}`);
    }
    await source.backup(temp);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  } finally {
    source.close();
  }

  // Asked again just before the swap: a server started while the copy was made.
  try {
    refuseWhileServing(dbPath);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  const previous = previousPathOf(dbPath);
  const hadDatabase = existsSync(dbPath);
  if (hadDatabase) {
    copyFileSync(dbPath, previous);
    if (existsSync(`${dbPath}-wal`)) copyFileSync(`${dbPath}-wal`, `${previous}-wal`);
    else rmSync(`${previous}-wal`, { force: true });
  }
  rmSync(`${dbPath}-wal`, { force: true });
  rmSync(`${dbPath}-shm`, { force: true });
  renameSync(temp, dbPath);
  return { ...counts, ...(hadDatabase ? { previous } : {}) };
}

function refuseWhileServing(dbPath: string): void {
  const pid = serverHolding(dbPath);
  if (pid === undefined) return;
  throw new ConfigError(
    `a server (pid ${pid}) has LINEUP_DB open (${lockPathOf(dbPath)}): stop it, restore, then start it again; replacing the file under it would be undone by its WAL`,
  );
}
