import { type Awaitable, andThen } from '../awaitable.js';
import type { Dialect } from './stream-check.js';

/** One viewer session as storage keeps it. Times are Unix seconds. */
export interface SessionRecord {
  id: number;
  dialect: Dialect;
  /** The streaming server's session id, or for nginx the viewer's IP and stream. */
  key: string;
  subscriberId: number;
  ip: string;
  stream: string;
  proto: string;
  /** The playlist key the session's token was issued under (backend-token.ts). */
  keyFingerprint: string;
  startedAt: number;
  lastSeen: number;
  endedAt: number | null;
  endReason: SessionEndReason | null;
}

/** `replaced`: zapping from the same IP took its place; `idle`: silent past SESSION_IDLE; `revoked`: access withdrawn. */
export type SessionEndReason = 'replaced' | 'idle' | 'revoked';

export type NewSession = Pick<SessionRecord, 'dialect' | 'key' | 'subscriberId' | 'ip' | 'stream' | 'proto' | 'keyFingerprint'>;

/**
 * What to do with a new session, decided by SessionLimiter from the subscriber's open sessions as
 * storage holds them under its lock: end the silent ones (`idle`), then either take the one another
 * process opened a moment ago (`existing`), refuse (`limit`), or insert after ending `replaced`.
 */
export type AdmissionPlan = { idle: number[] } & (
  | { kind: 'existing'; record: SessionRecord }
  | { kind: 'limit' }
  | { kind: 'insert'; replaced: SessionRecord[] }
);

/** The session admitted (new or existing) and the ones it replaced; undefined when refused. */
export type AdmissionOutcome = { record: SessionRecord; replaced: SessionRecord[] } | undefined;

/**
 * Where sessions are kept, shared by every process of the server (db/session-store.ts), or by
 * every node (db/pg/session-store.ts): a limit holds across workers, nodes and restarts only if
 * they all count the same rows. SQLite answers at once; PostgreSQL answers what needs a round trip
 * with a promise.
 */
export interface SessionStorage {
  /** Whether another connection (another worker, node, the CLI) ended sessions since this was last asked. */
  changedElsewhere(): boolean;
  /** The subscriber's latest session with this key, open or ended. */
  latest(subscriberId: number, dialect: Dialect, key: string): Awaitable<SessionRecord | undefined>;
  /**
   * Admits a new session atomically against every other process: reads the subscriber's open
   * sessions, applies `plan` to them and writes what it says, all in one transaction that
   * processes admitting the same subscriber take in turns, each seeing the other's rows.
   */
  admit(session: NewSession, now: number, plan: (open: SessionRecord[]) => AdmissionPlan): Awaitable<AdmissionOutcome>;
  /** Writes many sessions' last-seen times in one transaction. */
  touch(lastSeen: ReadonlyMap<number, number>): Awaitable<void>;
}

export interface SessionSettings {
  /** SESSION_IDLE: a session silent this long no longer counts. */
  idleSeconds: number;
  /** How long a replaced session's key stays refused (AUTH_DURATION): the player that lost it gives up, rather than taking the place back. */
  replacedBanSeconds: number;
}

export type Admission = 'ok' | 'limit' | 'replaced';

/** What this process knows of a session's last sighting, and what storage has of it. */
interface Sighting {
  seen: number;
  written: number;
}

const memoKeyOf = (session: NewSession) => `${session.subscriberId}\u0000${session.dialect}\u0000${session.key}`;

/** Sessions remembered by key at most; past it the memo starts afresh (storage has them all). */
const MAX_KNOWN = 100_000;

/**
 * `max_connections` as concurrent sessions, counted in storage so that every worker and a restart
 * agree. A session already open costs no write: its last sighting is kept in memory and written
 * in batches (flush) once it has moved on by a quarter of SESSION_IDLE, so that storage never lags
 * far enough for another worker to take a live session for a silent one. Only a new session is
 * written at once, inside a transaction that counts the subscriber's open sessions afresh.
 *
 * Zapping never counts twice: at the limit, a new session from an IP that already holds one of the
 * subscriber's sessions replaces that IP's oldest, whose next check is refused (`replaced`). A new
 * IP at the limit is refused (`limit`).
 */
export class SessionLimiter {
  private readonly known = new Map<string, SessionRecord>();
  private readonly sightings = new Map<number, Sighting>();
  private readonly unwritten = new Set<number>();
  private readonly writeEvery: number;
  /** Moves whenever `known` is forgotten: a record read while it moved is not remembered. */
  private forgets = 0;
  private flushing = false;

  constructor(
    private readonly storage: SessionStorage,
    private readonly settings: SessionSettings,
  ) {
    this.writeEvery = Math.max(1, Math.floor(settings.idleSeconds / 4));
  }

  /** At once when storage answers at once (SQLite, or a session remembered); else when its round trip does. */
  admit(session: NewSession, maxSessions: number, now: number): Awaitable<Admission> {
    this.forgetIfChanged();
    const memoKey = memoKeyOf(session);
    const record = this.known.get(memoKey);
    if (record) return this.admitKnown(record, session, memoKey, maxSessions, now);
    const forgetsBefore = this.forgets;
    return andThen(this.storage.latest(session.subscriberId, session.dialect, session.key), (latest) => {
      this.forgetIfChanged();
      if (latest) {
        latest.lastSeen = Math.max(latest.lastSeen, this.sightings.get(latest.id)?.seen ?? 0);
        // Read before another process ended it (and this one heard): good for this answer only.
        if (this.forgets === forgetsBefore) this.known.set(memoKey, latest);
      }
      return this.admitKnown(latest, session, memoKey, maxSessions, now);
    });
  }

  /**
   * Writes the sightings due, in one transaction; returns how many sessions it wrote (0 while
   * the last flush is still being written).
   */
  flush(now: number): Awaitable<number> {
    if (this.flushing) return 0;
    for (const [id, sighting] of this.sightings) {
      if (now - sighting.seen >= this.settings.idleSeconds && !this.unwritten.has(id)) this.sightings.delete(id);
    }
    if (this.unwritten.size === 0) return 0;
    const due = new Map<number, number>();
    for (const id of this.unwritten) {
      const sighting = this.sightings.get(id);
      if (sighting) due.set(id, sighting.seen);
    }
    const written = () => {
      this.flushing = false;
      for (const [id, seen] of due) {
        const sighting = this.sightings.get(id);
        if (sighting) sighting.written = seen;
        // Seen again while being written: due again once it has moved on enough.
        if (sighting?.seen === seen || !sighting) this.unwritten.delete(id);
      }
      return due.size;
    };
    this.flushing = true;
    let touched: Awaitable<void>;
    try {
      touched = this.storage.touch(due);
    } catch (error) {
      this.flushing = false;
      throw error;
    }
    if (!(touched instanceof Promise)) return written();
    return touched.then(written, (error: unknown) => {
      this.flushing = false;
      throw error;
    });
  }

  private forgetIfChanged(): void {
    if (this.storage.changedElsewhere() || this.known.size >= MAX_KNOWN) {
      this.known.clear();
      this.forgets++;
    }
  }

  private admitKnown(
    record: SessionRecord | undefined,
    session: NewSession,
    memoKey: string,
    maxSessions: number,
    now: number,
  ): Awaitable<Admission> {
    if (record) {
      if (record.endedAt === null && now - record.lastSeen < this.settings.idleSeconds) {
        this.sighted(record, now);
        return 'ok';
      }
      if (record.endReason === 'replaced' && now - record.endedAt! < this.settings.replacedBanSeconds) return 'replaced';
    }
    return this.start(session, memoKey, maxSessions, now);
  }

  private sighted(record: SessionRecord, now: number): void {
    record.lastSeen = now;
    let sighting = this.sightings.get(record.id);
    if (!sighting) this.sightings.set(record.id, (sighting = { seen: now, written: now }));
    sighting.seen = now;
    if (now - sighting.written >= this.writeEvery) this.unwritten.add(record.id);
  }

  private lastSeenOf(record: SessionRecord): number {
    return Math.max(record.lastSeen, this.sightings.get(record.id)?.seen ?? 0);
  }

  /** The one rule for a new session, whichever storage holds the open ones it is given. */
  private planFor(session: NewSession, open: readonly SessionRecord[], maxSessions: number, now: number): AdmissionPlan {
    const active: SessionRecord[] = [];
    const idle: number[] = [];
    for (const one of open) {
      if (now - this.lastSeenOf(one) < this.settings.idleSeconds) active.push(one);
      else idle.push(one.id);
    }
    // Another worker or node opened it a moment ago.
    const same = active.find((one) => one.dialect === session.dialect && one.key === session.key);
    if (same) return { idle, kind: 'existing', record: same };
    const excess = active.length - maxSessions + 1;
    if (excess <= 0) return { idle, kind: 'insert', replaced: [] };
    const fromIp = active.filter((one) => one.ip === session.ip).sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
    if (fromIp.length < excess) return { idle, kind: 'limit' };
    return { idle, kind: 'insert', replaced: fromIp.slice(0, excess) };
  }

  private start(session: NewSession, memoKey: string, maxSessions: number, now: number): Awaitable<Admission> {
    const admitted = this.storage.admit(session, now, (open) => this.planFor(session, open, maxSessions, now));
    return andThen(admitted, (outcome): Admission => {
      if (!outcome) return 'limit';
      for (const old of outcome.replaced) {
        const remembered = this.known.get(memoKeyOf(old));
        if (remembered?.id === old.id) Object.assign(remembered, { endedAt: now, endReason: 'replaced' });
      }
      this.known.set(memoKey, outcome.record);
      this.sighted(outcome.record, now);
      return 'ok';
    });
  }
}
