import type pg from 'pg';
import type {
  AdmissionOutcome,
  AdmissionPlan,
  NewSession,
  SessionEndReason,
  SessionRecord,
  SessionStorage,
} from '../../auth/session-limiter.js';
import type { Dialect } from '../../auth/stream-check.js';
import { type SessionRow, toRecord } from '../session-store.js';
import { asUnavailable } from './unavailable.js';

/**
 * The first key of the per-subscriber advisory lock (the two-int form, a space apart from the
 * migrations' and prune's one-bigint locks); the second is the subscriber id, folded into an int.
 */
const ADMISSION_LOCK_CLASS = 1_818_850_675;
const lockKeyOf = (subscriberId: number) => subscriberId % 2_147_483_647;

/** As SQLite's LOOK_EVERY_MS (session-store.ts): how stale the view of other nodes' ended sessions may be. */
const LOOK_EVERY_MS = 100;

const LATEST = {
  name: 'lineup_session_latest',
  text: 'SELECT * FROM stream_sessions WHERE subscriber_id = $1 AND dialect = $2 AND session_key = $3 ORDER BY id DESC LIMIT 1',
};
const LOCK = { name: 'lineup_session_lock', text: 'SELECT pg_advisory_xact_lock($1::int, $2::int)' };
const OPEN_OF = { name: 'lineup_session_open_of', text: 'SELECT * FROM stream_sessions WHERE ended_at IS NULL AND subscriber_id = $1' };
const END_SESSIONS = {
  name: 'lineup_session_end',
  text: 'UPDATE stream_sessions SET ended_at = $1, end_reason = $2 WHERE id = ANY($3::bigint[]) AND ended_at IS NULL',
};
const INSERT = {
  name: 'lineup_session_insert',
  text: `INSERT INTO stream_sessions (dialect, session_key, subscriber_id, ip, stream, proto, key_fingerprint, started_at, last_seen)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *`,
};
const TOUCH = {
  name: 'lineup_session_touch',
  text: `UPDATE stream_sessions s SET last_seen = greatest(s.last_seen, v.seen)
           FROM unnest($1::bigint[], $2::bigint[]) AS v(id, seen) WHERE s.id = v.id`,
};
export const ENDS_MARK = "SELECT nextval('stream_session_ends')";
/** A new sequence's last_value is its start before the first nextval as after it: is_called tells them apart. */
const ENDS_SEEN = {
  name: 'lineup_session_ends_seen',
  text: 'SELECT CASE WHEN is_called THEN last_value ELSE 0 END::text AS mark FROM stream_session_ends',
};
const COUNTS = {
  name: 'lineup_session_counts',
  text: `SELECT count(*)::int AS sessions, count(DISTINCT subscriber_id)::int AS subscribers
           FROM stream_sessions WHERE ended_at IS NULL AND last_seen > $1`,
};

const ACTIVE = {
  name: 'lineup_session_active',
  text: 'SELECT * FROM stream_sessions WHERE ended_at IS NULL AND last_seen > $1 ORDER BY subscriber_id, started_at, id',
};
const ACTIVE_OF = {
  name: 'lineup_session_active_of',
  text: `SELECT * FROM stream_sessions WHERE ended_at IS NULL AND last_seen > $1 AND subscriber_id = ANY($2::bigint[])
         ORDER BY subscriber_id, started_at, id`,
};
const ACTIVE_COUNT_OF = {
  name: 'lineup_session_active_count_of',
  text: 'SELECT count(*)::int AS sessions FROM stream_sessions WHERE ended_at IS NULL AND last_seen > $1 AND subscriber_id = $2',
};
/** END_SESSIONS, answering the ids it ended: of two nodes ending one session, one only hears it back. */
export const END_RETURNING = { name: 'lineup_session_end_returning', text: `${END_SESSIONS.text} RETURNING id` };
const FORGET = { name: 'lineup_session_forget', text: 'DELETE FROM stream_sessions WHERE last_seen <= $1' };

/** The addresses a subscriber ($1) streamed from since $2, the latest first: SessionStore.addressesOf's rows. */
export const SESSION_ADDRESSES_SQL = `SELECT ip, min(started_at) AS "firstSeen", max(last_seen) AS "lastSeen", count(*)::int AS sessions
  FROM stream_sessions WHERE subscriber_id = $1 AND last_seen > $2 GROUP BY ip ORDER BY "lastSeen" DESC`;

/**
 * The auth backend's sessions in PostgreSQL, shared by every node (SQLite's: db/session-store.ts,
 * the same rows as the same plain objects). A new session is admitted in one transaction under a
 * per-subscriber advisory lock: two nodes admitting the same subscriber at once take turns, and
 * the second counts the first's session. Reads and writes that fail are a 503 (as a busy SQLite).
 */
export class PostgresSessionStore implements SessionStorage {
  private markRead: string | undefined;
  private markReturned: string | undefined;
  private lookedAt = Number.NEGATIVE_INFINITY;
  private looking = false;

  constructor(private readonly pool: pg.Pool) {}

  /**
   * Whether any node ended sessions since this was last asked, from the `stream_session_ends`
   * sequence that each ending draws after its commit. Read in the background at most once per
   * LOOK_EVERY_MS: the answer is the last read's, and never waits.
   */
  changedElsewhere(): boolean {
    if (!this.looking && performance.now() - this.lookedAt >= LOOK_EVERY_MS) {
      this.looking = true;
      this.lookedAt = performance.now();
      this.pool
        .query<{ mark: string }>(ENDS_SEEN)
        .then(
          ({ rows }) => {
            this.markRead = rows[0]?.mark;
          },
          // Unreachable: the next look tries again, and admissions fail on their own.
          () => {},
        )
        .finally(() => {
          this.looking = false;
        });
    }
    const changed = this.markReturned !== undefined && this.markReturned !== this.markRead;
    this.markReturned = this.markRead;
    return changed;
  }

  async latest(subscriberId: number, dialect: Dialect, key: string): Promise<SessionRecord | undefined> {
    try {
      const { rows } = await this.pool.query<SessionRow>({ ...LATEST, values: [subscriberId, dialect, key] });
      return rows[0] && toRecord(rows[0]);
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  async admit(session: NewSession, now: number, plan: (open: SessionRecord[]) => AdmissionPlan): Promise<AdmissionOutcome> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw asUnavailable(error);
    }
    let ended = false;
    try {
      await client.query('BEGIN');
      let outcome: AdmissionOutcome;
      try {
        await client.query({ ...LOCK, values: [ADMISSION_LOCK_CLASS, lockKeyOf(session.subscriberId)] });
        const { rows } = await client.query<SessionRow>({ ...OPEN_OF, values: [session.subscriberId] });
        const decided = plan(rows.map(toRecord));
        const end = async (ids: number[], reason: SessionEndReason) => {
          if (ids.length === 0) return;
          await client.query({ ...END_SESSIONS, values: [now, reason, ids] });
          ended = true;
        };
        await end(decided.idle, 'idle');
        if (decided.kind === 'limit') outcome = undefined;
        else if (decided.kind === 'existing') outcome = { record: decided.record, replaced: [] };
        else {
          await end(
            decided.replaced.map((old) => old.id),
            'replaced',
          );
          const { rows: inserted } = await client.query<SessionRow>({
            ...INSERT,
            values: [
              session.dialect,
              session.key,
              session.subscriberId,
              session.ip,
              session.stream,
              session.proto,
              session.keyFingerprint,
              now,
            ],
          });
          outcome = { record: toRecord(inserted[0]!), replaced: decided.replaced };
        }
        await client.query('COMMIT');
      } catch (error) {
        // A lost connection cannot roll back: the server does.
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
      // After the commit, so that a node that sees the mark move reads the sessions as they are now.
      if (ended) await client.query(ENDS_MARK).catch(() => {});
      return outcome;
    } catch (error) {
      throw asUnavailable(error);
    } finally {
      client.release();
    }
  }

  async touch(lastSeen: ReadonlyMap<number, number>): Promise<void> {
    if (lastSeen.size === 0) return;
    await this.pool.query({ ...TOUCH, values: [[...lastSeen.keys()], [...lastSeen.values()]] });
  }

  /** How many sessions count now (seen after `since`), and for how many subscribers: SessionStore.counts. */
  async counts(since: number): Promise<{ sessions: number; subscribers: number }> {
    const { rows } = await this.pool.query<{ sessions: number; subscribers: number }>({ ...COUNTS, values: [since] });
    return rows[0]!;
  }

  /** Sessions that count now (open, and seen after `since`), everyone's: SessionStore.active. */
  async active(since: number): Promise<SessionRecord[]> {
    const { rows } = await this.pool.query<SessionRow>({ ...ACTIVE, values: [since] });
    return rows.map(toRecord);
  }

  /** Those of `subscriberIds` only, in the same order. */
  async activeOf(since: number, subscriberIds: readonly number[]): Promise<SessionRecord[]> {
    const { rows } = await this.pool.query<SessionRow>({ ...ACTIVE_OF, values: [since, subscriberIds] });
    return rows.map(toRecord);
  }

  /** How many of one subscriber's sessions count now: SessionStore.active(since, id).length. */
  async activeCount(since: number, subscriberId: number): Promise<number> {
    const { rows } = await this.pool.query<{ sessions: number }>({ ...ACTIVE_COUNT_OF, values: [since, subscriberId] });
    return rows[0]!.sessions;
  }

  /**
   * Ends those of `ids` still open; returns the ids this call ended, so that of two nodes ending
   * one session only one acts on it. Other nodes hear of it through the ends mark.
   */
  async end(ids: readonly number[], reason: SessionEndReason, at: number): Promise<number[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<{ id: number }>({ ...END_RETURNING, values: [at, reason, ids] });
    if (rows.length > 0) await this.pool.query(ENDS_MARK).catch(() => {});
    return rows.map((row) => Number(row.id));
  }

  /** Deletes the sessions last seen at or before `before`; returns how many. */
  async forget(before: number): Promise<number> {
    const { rowCount } = await this.pool.query({ ...FORGET, values: [before] });
    return rowCount ?? 0;
  }
}
