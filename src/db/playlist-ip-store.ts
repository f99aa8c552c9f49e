import type { PlaylistAddress, PlaylistFetch, PlaylistIpStorage, SharingSuspect } from '../subscribers/playlist-ips.js';
import type { SqlTime } from '../time.js';
import { type Db, withoutWaiting } from './open.js';

export interface AddressRecord {
  ip: string;
  first_seen: string;
  last_seen: string;
  buckets: number;
}

export interface SuspectRecord extends AddressRecord {
  username: string;
  max_connections: number;
}

export const toAddress = (row: AddressRecord): PlaylistAddress => ({
  ip: row.ip,
  firstSeen: row.first_seen,
  lastSeen: row.last_seen,
  buckets: row.buckets,
});

/**
 * A subscriber's playlist addresses (its username, then the earliest last_seen), the latest first;
 * `collate` orders addresses as SQLite does, character by character (PostgreSQL's COLLATE "C").
 */
export const addressesSince = (collate = '') => `
  SELECT p.ip, p.first_seen, p.last_seen, p.buckets
  FROM playlist_ips p JOIN subscribers s ON s.id = p.subscriber_id
  WHERE s.username = ? AND p.last_seen >= ?
  ORDER BY p.last_seen DESC, p.ip${collate}`;

/**
 * The addresses of the subscriptions fetched from more of them than their max_connections since
 * the time bound to both `?`; `byteOrder` as in `addressesSince`. Read by `toSuspects`.
 */
export const sharingSinceSql = (byteOrder = '') => `
  SELECT s.username, s.max_connections, p.ip, p.first_seen, p.last_seen, p.buckets
  FROM playlist_ips p JOIN subscribers s ON s.id = p.subscriber_id
  WHERE p.last_seen >= ? AND p.subscriber_id IN (
    SELECT recent.subscriber_id FROM playlist_ips recent JOIN subscribers owner ON owner.id = recent.subscriber_id
    WHERE recent.last_seen >= ?
    GROUP BY recent.subscriber_id HAVING count(*) > min(owner.max_connections))
  ORDER BY s.username${byteOrder}, p.last_seen DESC, p.ip${byteOrder}`;

/** The rows of `sharingSinceSql`, whichever backend read them: the most addresses first. */
export function toSuspects(rows: readonly SuspectRecord[]): SharingSuspect[] {
  const bySubscriber = new Map<string, SharingSuspect>();
  for (const row of rows) {
    let suspect = bySubscriber.get(row.username);
    if (!suspect) {
      suspect = { username: row.username, maxConnections: row.max_connections, addresses: [] };
      bySubscriber.set(row.username, suspect);
    }
    suspect.addresses.push(toAddress(row));
  }
  return [...bySubscriber.values()].sort(
    (a, b) => b.addresses.length - a.addresses.length || (a.username < b.username ? -1 : a.username > b.username ? 1 : 0),
  );
}

/** The playlist_ips table: where each subscriber's playlist was fetched from. */
export class PlaylistIpStore implements PlaylistIpStorage {
  private readonly upsert;
  private readonly known;
  private readonly countSince;
  private readonly deleteBefore;
  private readonly addressesSince;
  private readonly suspectsSince;
  private readonly recordAll;
  private readonly admitOne;

  constructor(private readonly db: Db) {
    // A subscriber deleted since its fetch is skipped rather than failing the whole batch on the
    // foreign key. A later bucket moves last_seen and counts one more; the same bucket written by a
    // second worker changes nothing.
    this.upsert = db.prepare(`
      INSERT INTO playlist_ips (subscriber_id, ip, first_seen, last_seen)
        SELECT @subscriberId, @ip, @at, @at WHERE EXISTS (SELECT 1 FROM subscribers WHERE id = @subscriberId)
      ON CONFLICT (subscriber_id, ip) DO UPDATE SET
        buckets = buckets + (excluded.last_seen > last_seen),
        last_seen = max(last_seen, excluded.last_seen)`);
    this.known = db.prepare('SELECT 1 FROM playlist_ips WHERE subscriber_id = ? AND ip = ? AND last_seen >= ?').pluck();
    this.countSince = db.prepare('SELECT count(*) FROM playlist_ips WHERE subscriber_id = ? AND last_seen >= ?').pluck();
    this.deleteBefore = db.prepare('DELETE FROM playlist_ips WHERE last_seen < ?');
    this.addressesSince = db.prepare(addressesSince());
    this.suspectsSince = db.prepare(sharingSinceSql());
    this.recordAll = db.transaction((fetches: readonly PlaylistFetch[]) => {
      for (const fetch of fetches) {
        // One row the CHECKs refuse is skipped alone (SQLite undoes just that statement): it must
        // not keep the whole batch queued for ever.
        try {
          this.upsert.run(fetch);
        } catch (error) {
          if (!String((error as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT')) throw error;
        }
      }
    });
    this.admitOne = db.transaction((fetch: PlaylistFetch, since: SqlTime, limit: number): boolean => {
      const known = this.known.get(fetch.subscriberId, fetch.ip, since) !== undefined;
      if (!known && (this.countSince.get(fetch.subscriberId, since) as number) >= limit) return false;
      this.upsert.run(fetch);
      return true;
    });
  }

  /**
   * Written only if the write lock is free now (SQLITE_BUSY otherwise, and the caller keeps them
   * queued): a server must not stall every request behind another process's long write, such as a
   * prune chunk, for a record that can wait a second.
   */
  record(fetches: readonly PlaylistFetch[]): void {
    withoutWaiting(this.db, () => this.recordAll.immediate(fetches));
  }

  admit(fetch: PlaylistFetch, since: SqlTime, limit: number): boolean {
    return this.admitOne.immediate(fetch, since, limit);
  }

  forgetBefore(before: SqlTime): number {
    return withoutWaiting(this.db, () => this.deleteBefore.run(before).changes);
  }

  /** The addresses USER's playlist was fetched from since `since`, the latest first. */
  addressesOf(username: string, since: SqlTime): PlaylistAddress[] {
    return (this.addressesSince.all(username, since) as AddressRecord[]).map(toAddress);
  }

  /** Subscriptions fetched from more addresses than their max_connections since `since`, the most addresses first. */
  sharingSince(since: SqlTime): SharingSuspect[] {
    return toSuspects(this.suspectsSince.all(since, since) as SuspectRecord[]);
  }
}
