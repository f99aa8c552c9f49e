import { dirname, join, parse } from 'node:path';
import Database from 'better-sqlite3';
import type {
  AdmissionOutcome,
  AdmissionPlan,
  NewSession,
  SessionEndReason,
  SessionRecord,
  SessionStorage,
} from '../auth/session-limiter.js';
import type { Dialect } from '../auth/stream-check.js';
import { ConfigError } from '../errors.js';
import type { Db } from './open.js';

/**
 * Viewer sessions live in a file of their own next to LINEUP_DB (`lineup.db` → `lineup.sessions.db`).
 * They are written as viewers come and go, and any write to LINEUP_DB itself moves its
 * data_version, which makes every process recompile its playlists and changes every ETag: the
 * lineup must see only the operator's changes. A session is nothing an operator restores, so the
 * file is not in backups; losing it only lets everyone start afresh.
 */
export function sessionDbPath(dbPath: string): string {
  if (dbPath === ':memory:') return dbPath;
  const { name } = parse(dbPath);
  return join(dirname(dbPath), `${name}.sessions.db`);
}

const SCHEMA = [
  /* 1 */ `
  CREATE TABLE sessions (
    id              INTEGER PRIMARY KEY,
    dialect         TEXT NOT NULL CHECK (dialect IN ('flussonic', 'cesbo', 'nginx')),
    -- The streaming server's session id, or for nginx the viewer's IP and stream.
    session_key     TEXT NOT NULL,
    subscriber_id   INTEGER NOT NULL,
    ip              TEXT NOT NULL,
    stream          TEXT NOT NULL,
    proto           TEXT NOT NULL DEFAULT '',
    key_fingerprint TEXT NOT NULL,
    -- Unix seconds.
    started_at      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    ended_at        INTEGER,
    end_reason      TEXT CHECK (end_reason IS NULL OR end_reason IN ('replaced', 'idle', 'revoked'))
  ) STRICT;
  CREATE UNIQUE INDEX sessions_open_key ON sessions (subscriber_id, dialect, session_key) WHERE ended_at IS NULL;
  CREATE INDEX sessions_key ON sessions (subscriber_id, dialect, session_key, id);
  CREATE INDEX sessions_open ON sessions (ended_at, subscriber_id);
  CREATE INDEX sessions_last_seen ON sessions (last_seen);
  `,
];

/** Opens (creating) the sessions file and brings its schema up to date. */
export function openSessionDatabase(path: string): Db {
  let db: Db;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
  } catch (error) {
    throw new ConfigError(`LINEUP_DB: cannot open the sessions file ${path}: ${(error as Error).message}`);
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let step = version; step < SCHEMA.length; step++) {
    db.transaction(() => {
      db.exec(SCHEMA[step]!);
      db.pragma(`user_version = ${step + 1}`);
    }).immediate();
  }
  return db;
}

/** A sessions row as both backends select it (`SELECT *`). */
export interface SessionRow {
  id: number;
  dialect: Dialect;
  session_key: string;
  subscriber_id: number;
  ip: string;
  stream: string;
  proto: string;
  key_fingerprint: string;
  started_at: number;
  last_seen: number;
  ended_at: number | null;
  end_reason: SessionEndReason | null;
}

export const toRecord = (row: SessionRow): SessionRecord => ({
  id: row.id,
  dialect: row.dialect,
  key: row.session_key,
  subscriberId: row.subscriber_id,
  ip: row.ip,
  stream: row.stream,
  proto: row.proto,
  keyFingerprint: row.key_fingerprint,
  startedAt: row.started_at,
  lastSeen: row.last_seen,
  endedAt: row.ended_at,
  endReason: row.end_reason,
});

/** The sessions that count: open and seen after `?`, in `table` (SQLite's `sessions`, PostgreSQL's `stream_sessions`). */
export const ACTIVE_SESSIONS_SQL = (table: string) =>
  `SELECT * FROM ${table} WHERE ended_at IS NULL AND last_seen > ? ORDER BY subscriber_id, started_at, id`;
/** ACTIVE_SESSIONS_SQL for one subscriber (the second `?`). */
export const ACTIVE_SESSIONS_OF_SQL = (table: string) =>
  `SELECT * FROM ${table} WHERE ended_at IS NULL AND last_seen > ? AND subscriber_id = ? ORDER BY started_at, id`;

/** The sessions as the admin API and `lineup sessions` see them: who counts now, and closing them. */
export type SessionAdmin = Pick<SessionStore, 'active' | 'end'>;

/** One address a subscriber streamed from, with when it was first and last seen (Unix seconds). */
export interface SeenAddress {
  ip: string;
  firstSeen: number;
  lastSeen: number;
  sessions: number;
}

/**
 * How stale this process's view of other processes' session writes may be. Asking SQLite costs a
 * read transaction (about 8 µs, as much as the rest of a decision), and the only thing missed
 * meanwhile is another worker's replacing or ending a session, which the streaming server's next
 * check (X-AuthDuration, or nginx's cache) is far later than this anyway.
 */
const LOOK_EVERY_MS = 100;

export class SessionStore implements SessionStorage {
  private readonly dataVersion;
  private dataVersionThisTurn: number | undefined;
  private lookedAt = Number.NEGATIVE_INFINITY;
  private lastDataVersion: number | undefined;
  private readonly latestQuery;
  private readonly openOf;
  private readonly insertQuery;
  private readonly endQuery;
  private readonly touchQuery;
  private readonly activeQuery;
  private readonly activeOfQuery;
  private readonly countsQuery;
  private readonly addressesQuery;
  private readonly forgetQuery;

  constructor(private readonly db: Db) {
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.latestQuery = db.prepare(
      'SELECT * FROM sessions WHERE subscriber_id = ? AND dialect = ? AND session_key = ? ORDER BY id DESC LIMIT 1',
    );
    this.openOf = db.prepare('SELECT * FROM sessions WHERE ended_at IS NULL AND subscriber_id = ?');
    this.insertQuery = db.prepare(`
      INSERT INTO sessions (dialect, session_key, subscriber_id, ip, stream, proto, key_fingerprint, started_at, last_seen)
      VALUES (@dialect, @key, @subscriberId, @ip, @stream, @proto, @keyFingerprint, @now, @now) RETURNING *`);
    this.endQuery = db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL');
    this.touchQuery = db.prepare('UPDATE sessions SET last_seen = max(last_seen, ?) WHERE id = ?');
    this.activeQuery = db.prepare(ACTIVE_SESSIONS_SQL('sessions'));
    this.activeOfQuery = db.prepare(ACTIVE_SESSIONS_OF_SQL('sessions'));
    this.countsQuery = db.prepare(
      'SELECT count(*) AS sessions, count(DISTINCT subscriber_id) AS subscribers FROM sessions WHERE ended_at IS NULL AND last_seen > ?',
    );
    this.addressesQuery = db.prepare(`
      SELECT ip, min(started_at) AS firstSeen, max(last_seen) AS lastSeen, count(*) AS sessions
      FROM sessions WHERE subscriber_id = ? AND last_seen > ? GROUP BY ip ORDER BY lastSeen DESC`);
    this.forgetQuery = db.prepare('DELETE FROM sessions WHERE last_seen <= ?');
  }

  /** Asked at most once per event-loop turn, as LineupStore asks the lineup's, and once per LOOK_EVERY_MS. */
  changedElsewhere(): boolean {
    if (this.dataVersionThisTurn === undefined && performance.now() - this.lookedAt >= LOOK_EVERY_MS) {
      this.lookedAt = performance.now();
      this.dataVersionThisTurn = this.dataVersion.get() as number;
      setImmediate(() => {
        this.dataVersionThisTurn = undefined;
      });
    }
    const seen = this.dataVersionThisTurn ?? this.lastDataVersion;
    const changed = this.lastDataVersion !== undefined && this.lastDataVersion !== seen;
    this.lastDataVersion = seen;
    return changed;
  }

  latest(subscriberId: number, dialect: Dialect, key: string): SessionRecord | undefined {
    const row = this.latestQuery.get(subscriberId, dialect, key) as SessionRow | undefined;
    return row && toRecord(row);
  }

  /** In one IMMEDIATE transaction: workers admitting at once take turns, each seeing the other's rows. */
  admit(session: NewSession, now: number, plan: (open: SessionRecord[]) => AdmissionPlan): AdmissionOutcome {
    return this.db
      .transaction((): AdmissionOutcome => {
        const decided = plan((this.openOf.all(session.subscriberId) as SessionRow[]).map(toRecord));
        if (decided.idle.length > 0) this.end(decided.idle, 'idle', now);
        if (decided.kind === 'limit') return undefined;
        if (decided.kind === 'existing') return { record: decided.record, replaced: [] };
        if (decided.replaced.length > 0)
          this.end(
            decided.replaced.map((old) => old.id),
            'replaced',
            now,
          );
        return { record: this.insert(session, now), replaced: decided.replaced };
      })
      .immediate();
  }

  private insert(session: NewSession, now: number): SessionRecord {
    return toRecord(this.insertQuery.get({ ...session, now }) as SessionRow);
  }

  /** Ends those of `ids` still open; returns the ids this call ended. */
  end(ids: readonly number[], reason: SessionEndReason, at: number): number[] {
    return this.db.transaction(() => ids.filter((id) => this.endQuery.run(at, reason, id).changes > 0))();
  }

  touch(lastSeen: ReadonlyMap<number, number>): void {
    this.db.transaction(() => {
      for (const [id, seen] of lastSeen) this.touchQuery.run(seen, id);
    })();
  }

  /** Sessions that count now: open, and seen after `since`; one subscriber's, or everyone's. */
  active(since: number, subscriberId?: number): SessionRecord[] {
    const rows = subscriberId === undefined ? this.activeQuery.all(since) : this.activeOfQuery.all(since, subscriberId);
    return (rows as SessionRow[]).map(toRecord);
  }

  /** How many sessions count now, and for how many subscribers. */
  counts(since: number): { sessions: number; subscribers: number } {
    return this.countsQuery.get(since) as { sessions: number; subscribers: number };
  }

  /** The addresses a subscriber streamed from since `since`, the latest first. */
  addressesOf(subscriberId: number, since: number): SeenAddress[] {
    return this.addressesQuery.all(subscriberId, since) as SeenAddress[];
  }

  /** Deletes the sessions last seen at or before `before` (long over); returns how many. */
  forget(before: number): number {
    return this.forgetQuery.run(before).changes;
  }

  close(): void {
    this.db.close();
  }
}
