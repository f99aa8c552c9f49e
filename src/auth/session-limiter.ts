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
 * Where sessions are kept, shared by every process of the server (db/session-store.ts): a limit
 * holds across workers and restarts only if they all count the same rows.
 */
export interface SessionStorage {
  /** Whether another connection (another worker, the CLI) wrote since this was last asked. */
  changedElsewhere(): boolean;
  /** The subscriber's latest session with this key, open or ended. */
  latest(subscriberId: number, dialect: Dialect, key: string): SessionRecord | undefined;
  /** Runs `work` in one write transaction: workers admitting at once take turns, each seeing the other's rows. */
  exclusively<T>(work: () => T): T;
  openSessionsOf(subscriberId: number): SessionRecord[];
  insert(session: NewSession, now: number): SessionRecord;
  end(ids: readonly number[], reason: SessionEndReason, at: number): void;
  /** Writes many sessions' last-seen times in one transaction. */
  touch(lastSeen: ReadonlyMap<number, number>): void;
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

  constructor(
    private readonly storage: SessionStorage,
    private readonly settings: SessionSettings,
  ) {
    this.writeEvery = Math.max(1, Math.floor(settings.idleSeconds / 4));
  }

  admit(session: NewSession, maxSessions: number, now: number): Admission {
    if (this.storage.changedElsewhere() || this.known.size >= MAX_KNOWN) this.known.clear();
    const memoKey = memoKeyOf(session);
    let record = this.known.get(memoKey);
    if (!record) {
      record = this.storage.latest(session.subscriberId, session.dialect, session.key);
      if (record) {
        record.lastSeen = Math.max(record.lastSeen, this.sightings.get(record.id)?.seen ?? 0);
        this.known.set(memoKey, record);
      }
    }
    if (record) {
      if (record.endedAt === null && now - record.lastSeen < this.settings.idleSeconds) {
        this.sighted(record, now);
        return 'ok';
      }
      if (record.endReason === 'replaced' && now - record.endedAt! < this.settings.replacedBanSeconds) return 'replaced';
    }
    return this.start(session, memoKey, maxSessions, now);
  }

  /** Writes the sightings due, in one transaction; returns how many sessions it wrote. */
  flush(now: number): number {
    for (const [id, sighting] of this.sightings) {
      if (now - sighting.seen >= this.settings.idleSeconds && !this.unwritten.has(id)) this.sightings.delete(id);
    }
    if (this.unwritten.size === 0) return 0;
    const due = new Map<number, number>();
    for (const id of this.unwritten) {
      const sighting = this.sightings.get(id);
      if (sighting) due.set(id, sighting.seen);
    }
    this.storage.touch(due);
    for (const [id, seen] of due) this.sightings.get(id)!.written = seen;
    this.unwritten.clear();
    return due.size;
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

  private start(session: NewSession, memoKey: string, maxSessions: number, now: number): Admission {
    const outcome = this.storage.exclusively(() => {
      const active: SessionRecord[] = [];
      const silent: number[] = [];
      for (const open of this.storage.openSessionsOf(session.subscriberId)) {
        if (now - this.lastSeenOf(open) < this.settings.idleSeconds) active.push(open);
        else silent.push(open.id);
      }
      if (silent.length > 0) this.storage.end(silent, 'idle', now);
      // Another worker opened it a moment ago.
      const same = active.find((open) => open.dialect === session.dialect && open.key === session.key);
      if (same) return { record: same, replaced: [] };
      let replaced: SessionRecord[] = [];
      const excess = active.length - maxSessions + 1;
      if (excess > 0) {
        const fromIp = active.filter((open) => open.ip === session.ip).sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
        if (fromIp.length < excess) return undefined;
        replaced = fromIp.slice(0, excess);
        this.storage.end(
          replaced.map((old) => old.id),
          'replaced',
          now,
        );
      }
      return { record: this.storage.insert(session, now), replaced };
    });
    if (!outcome) return 'limit';
    for (const old of outcome.replaced) {
      const remembered = this.known.get(memoKeyOf(old));
      if (remembered?.id === old.id) Object.assign(remembered, { endedAt: now, endReason: 'replaced' });
    }
    this.known.set(memoKey, outcome.record);
    this.sighted(outcome.record, now);
    return 'ok';
  }
}
