import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Db } from './open.js';

/**
 * Bulk commits (prune chunks) between two checkpoints. Each checkpoint copies every page the
 * commits since the last one touched into the database file, and most of a chunk's pages lie in
 * indexes keyed by random hashes (the key index, the retired keys), which every chunk touches all
 * over again. Where the file is cached in large folios (ext4 on Linux 6.16 and later), a 4 kB page
 * written back writes its whole folio, so a checkpoint after each of the 40 chunks of a 200k prune
 * wrote 13.6 GB; one after every fourth, 7.1 GB (docs/performance.md).
 */
const COMMITS_PER_CHECKPOINT = 4;

/** How often the log is tried to be started over after a checkpoint, a millisecond apart. */
const LOG_RESTART_ATTEMPTS = 50;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
/** A log started over and holding that one write: its header and a frame or two. */
const RESTARTED_LOG_BYTES = 64 * 1024;

/**
 * The write-ahead log of one connection that commits in bulk, while servers read and write the
 * same file. Between its checkpoints it keeps a read transaction open on a second connection (the
 * hold), at a point of the log already copied into the database: no other connection can then
 * copy anything past it, so a server's automatic checkpoint after its own small commit finds
 * nothing to do, instead of copying the bulk writer's hundreds of megabytes (and syncing) in its
 * event loop. Every COMMITS_PER_CHECKPOINT commits, and at `finish`, the bulk writer lets go and
 * checkpoints itself. A connection that is not on a file in WAL mode has nothing to hold.
 */
export class BulkWriteLog {
  private hold: Database.Database | undefined;
  private commitsSinceCheckpoint = 0;

  constructor(
    private readonly db: Db,
    private readonly commitsPerCheckpoint = COMMITS_PER_CHECKPOINT,
  ) {}

  /** Before a bulk commit: holds checkpoints back from here, if not already. */
  beforeCommit(): void {
    if (this.hold || !this.inWalMode()) return;
    // What the log holds now (a server's last writes) is copied first, so that nobody else has any of it to copy.
    this.db.pragma('wal_checkpoint(PASSIVE)');
    const hold = new Database(this.db.name, { fileMustExist: true });
    hold.exec('BEGIN');
    hold.prepare('SELECT count(*) FROM sqlite_schema').pluck().get();
    this.hold = hold;
  }

  /** After a bulk commit: every COMMITS_PER_CHECKPOINT, copies the log into the database and starts it over. */
  afterCommit(): void {
    if (!this.hold || ++this.commitsSinceCheckpoint < this.commitsPerCheckpoint) return;
    this.letGo();
    this.restart();
    this.beforeCommit();
  }

  /**
   * Once the bulk writes are done (or stopped): lets go, copies the log into the database and
   * empties the file. After a bulk write it would otherwise keep its largest size on disk for good.
   * A reader still holding an older state makes it a no-op for now (returns false); the next
   * writes' automatic checkpoints catch up. The file is left with one page (see `restart`).
   */
  finish(): boolean {
    this.letGo();
    // Copied first by PASSIVE checkpoints, which never hold readers up: a TRUNCATE one keeps new
    // readers out while it copies, and the last chunks and the prune's trim can leave up to 200 MB
    // of log. TRUNCATE then only empties the file.
    this.restart();
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    this.restart();
    return result?.busy === 0;
  }

  private letGo(): void {
    this.hold?.close();
    this.hold = undefined;
    this.commitsSinceCheckpoint = 0;
  }

  private inWalMode(): boolean {
    return !this.db.memory && this.db.pragma('journal_mode', { simple: true }) === 'wal';
  }

  /**
   * Once a checkpoint has copied the whole log, the next writer starts the log over, and starting
   * it over syncs the log's header to disk (an fsync); a log not started over also keeps its size,
   * so that the next small write crosses the automatic checkpoint's threshold and checkpoints
   * (an fsync of the database file). Left to the next writer, both fell on the server's
   * once-a-second batch of playlist addresses, in its event loop: up to 383 ms each, the slowest
   * responses of a prune (docs/performance.md). So the bulk writer copies the log and writes first,
   * a write that changes nothing (user_version as it was), and pays for both. A reader still on an
   * older state keeps the log from starting over: then it is tried again, a millisecond apart, for
   * a while (PASSIVE checkpoints never hold readers up; a RESTART one held the server's reads up to
   * 190 ms each).
   */
  private restart(): void {
    if (!this.inWalMode()) return;
    const rewrite = this.db.transaction(() => {
      this.db.pragma(`user_version = ${this.db.pragma('user_version', { simple: true }) as number}`);
    });
    // Only while here: a log started over is then cut down to what was just written, which tells.
    const sizeLimit = this.db.pragma('journal_size_limit', { simple: true }) as number;
    this.db.pragma('journal_size_limit = 0');
    try {
      for (let attempt = 0; attempt < LOG_RESTART_ATTEMPTS; attempt++) {
        if (attempt > 0) Atomics.wait(PAUSE, 0, 0, 1);
        this.db.pragma('wal_checkpoint(PASSIVE)');
        rewrite.immediate();
        if ((statSync(`${this.db.name}-wal`, { throwIfNoEntry: false })?.size ?? 0) <= RESTARTED_LOG_BYTES) return;
      }
    } finally {
      this.db.pragma(`journal_size_limit = ${sizeLimit}`);
    }
  }
}
