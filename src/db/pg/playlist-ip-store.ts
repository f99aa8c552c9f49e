import type pg from 'pg';
import type { PlaylistFetch, PlaylistIpStorage } from '../../subscribers/playlist-ips.js';
import type { SqlTime } from '../../time.js';

/**
 * PlaylistIpStore's upsert for a whole batch in one statement. A subscriber deleted since its fetch
 * is skipped, and so is a row the table's CHECKs would refuse (filtered here, because PostgreSQL
 * would fail the whole statement where SQLite skips the one row). A later bucket moves last_seen
 * and counts one more; the same bucket written by another node changes nothing.
 */
const RECORD = {
  name: 'lineup_playlist_ips_record',
  text: `
    INSERT INTO playlist_ips (subscriber_id, ip, first_seen, last_seen)
      SELECT f.subscriber_id, f.ip, f.at, f.at
      FROM unnest($1::bigint[], $2::text[], $3::text[]) AS f (subscriber_id, ip, at)
      WHERE EXISTS (SELECT 1 FROM subscribers s WHERE s.id = f.subscriber_id)
        AND f.ip <> '' AND length(f.ip) <= 45 AND lineup_utc_text_valid(f.at)
    ON CONFLICT (subscriber_id, ip) DO UPDATE SET
      buckets = playlist_ips.buckets + (excluded.last_seen > playlist_ips.last_seen)::integer,
      last_seen = greatest(playlist_ips.last_seen, excluded.last_seen)`,
};

/**
 * The first key of the per-subscriber advisory lock that admits addresses under PLAYLIST_IP_LIMIT
 * (the two-int form; the sessions' admission lock is the class before it); the second is the
 * subscriber id, folded into an int.
 */
const ADMIT_LOCK_CLASS = 1_818_850_676;
const lockKeyOf = (subscriberId: number) => subscriberId % 2_147_483_647;
const ADMIT_LOCK = { name: 'lineup_playlist_ips_admit_lock', text: 'SELECT pg_advisory_xact_lock($1::int, $2::int)' };

/**
 * PlaylistIpStore's admit in one statement, after the lock (so that its snapshot holds every
 * admit committed before): the address is let in when it fetched since $4 or fewer than $5 did,
 * and then recorded as RECORD records it.
 */
const ADMIT = {
  name: 'lineup_playlist_ips_admit',
  text: `
    WITH decision AS (
      SELECT EXISTS (SELECT 1 FROM playlist_ips WHERE subscriber_id = $1::bigint AND ip = $2::text AND last_seen >= $4::text)
        OR (SELECT count(*) FROM playlist_ips WHERE subscriber_id = $1::bigint AND last_seen >= $4::text) < $5::int AS allowed
    ), recorded AS (
      INSERT INTO playlist_ips (subscriber_id, ip, first_seen, last_seen)
        SELECT $1::bigint, $2::text, $3::text, $3::text FROM decision
        WHERE decision.allowed AND EXISTS (SELECT 1 FROM subscribers s WHERE s.id = $1::bigint)
          AND $2::text <> '' AND length($2::text) <= 45 AND lineup_utc_text_valid($3::text)
      ON CONFLICT (subscriber_id, ip) DO UPDATE SET
        buckets = playlist_ips.buckets + (excluded.last_seen > playlist_ips.last_seen)::integer,
        last_seen = greatest(playlist_ips.last_seen, excluded.last_seen)
    )
    SELECT allowed FROM decision`,
};

const FORGET_BEFORE = { name: 'lineup_playlist_ips_forget', text: 'DELETE FROM playlist_ips WHERE last_seen < $1' };

const pairOf = (fetch: PlaylistFetch) => `${fetch.subscriberId} ${fetch.ip}`;

/**
 * The batch in rounds in which each (subscriber, address) is once, in the batch's order: one
 * statement may not upsert a row twice, and SQLite counts a pair's later buckets one after the
 * other. Nearly always one round. Each round by subscriber and address, so that two nodes' batches
 * lock their rows in the same order.
 */
function rounds(fetches: readonly PlaylistFetch[]): PlaylistFetch[][] {
  const result: PlaylistFetch[][] = [];
  const seen = new Map<string, number>();
  for (const fetch of fetches) {
    const round = seen.get(pairOf(fetch)) ?? 0;
    seen.set(pairOf(fetch), round + 1);
    (result[round] ??= []).push(fetch);
  }
  for (const round of result) round.sort((a, b) => a.subscriberId - b.subscriberId || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  return result;
}

const valuesOf = (round: readonly PlaylistFetch[]) => [round.map((f) => f.subscriberId), round.map((f) => f.ip), round.map((f) => f.at)];

/**
 * The playlist_ips writes a server makes, on PostgreSQL. Unlike SQLite's, a write never stalls
 * the event loop, so it waits for row locks instead of giving up at once. `admit` takes a
 * per-subscriber advisory lock, so that nodes admitting one subscriber's addresses take turns and
 * each counts the others'.
 */
export class PostgresPlaylistIpStore implements PlaylistIpStorage {
  constructor(private readonly pool: pg.Pool) {}

  async record(fetches: readonly PlaylistFetch[]): Promise<void> {
    const [first, ...more] = rounds(fetches);
    if (!first) return;
    if (more.length === 0) {
      await this.pool.query({ ...RECORD, values: valuesOf(first) });
      return;
    }
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      for (const round of [first, ...more]) await client.query({ ...RECORD, values: valuesOf(round) });
      await client.query('COMMIT');
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async admit(fetch: PlaylistFetch, since: SqlTime, limit: number): Promise<boolean> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        await client.query({ ...ADMIT_LOCK, values: [ADMIT_LOCK_CLASS, lockKeyOf(fetch.subscriberId)] });
        const { rows } = await client.query<{ allowed: boolean }>({
          ...ADMIT,
          values: [fetch.subscriberId, fetch.ip, fetch.at, since, limit],
        });
        await client.query('COMMIT');
        return rows[0]!.allowed;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async forgetBefore(before: SqlTime): Promise<number> {
    const { rowCount } = await this.pool.query({ ...FORGET_BEFORE, values: [before] });
    return rowCount ?? 0;
  }
}
