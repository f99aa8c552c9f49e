import type pg from 'pg';
import type { ChangeFeed, SubscriberFence } from './change-feed.js';

const WAIT_MS = 200;
const PROBE_EVERY_MS = 5;

/**
 * Whether this server shows the fence: a primary (or a promoted standby) shows what it has; a
 * standby, once it has replayed past the WAL position and holds the last notified change (or has
 * trimmed past it, which it can only have done after replaying it).
 */
const CAUGHT_UP_SQL = `SELECT NOT pg_is_in_recovery()
  OR (pg_last_wal_replay_lsn() >= $2::pg_lsn
      AND ($1::bigint = 0
           OR $1::bigint <= (SELECT through_seq FROM subscriber_changes_trimmed)
           OR EXISTS (SELECT 1 FROM subscriber_changes WHERE seq = $1::bigint))) AS caught_up`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Where to read a subscriber when a standby (LINEUP_DB_REPLICA) is configured. A standby that
 * has not replayed the last change this process was notified of may still show the revoked
 * subscriber, so it is trusted only once it has; it is given `waitMs` to get there, then the
 * primary answers. While the feed is down nothing says what the standby lacks: the primary answers.
 */
export class ReplicaFence {
  /** The last fence the standby was seen to pass: until the feed moves it, no need to ask again. */
  #passed: SubscriberFence | undefined;
  /** One question in flight per fence, shared by the lookups that wait on it. */
  #probe: { fence: SubscriberFence; answer: Promise<boolean> } | undefined;

  constructor(
    private readonly feed: Pick<ChangeFeed, 'live' | 'subscriberFence'>,
    private readonly replica: pg.Pool,
    private readonly primary: pg.Pool,
    private readonly waitMs = WAIT_MS,
  ) {}

  /** Reads through whichever pool `readPool` picks, each query on its own. */
  readonly reads = {
    query: async <R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> =>
      (await this.readPool()).query<R>(config),
  };

  async readPool(): Promise<pg.Pool> {
    const fence = this.feed.subscriberFence();
    if (!this.feed.live || fence === undefined) return this.primary;
    if (fence === this.#passed) return this.replica;
    const deadline = performance.now() + this.waitMs;
    for (;;) {
      let caughtUp: boolean;
      try {
        caughtUp = await this.#caughtUp(fence);
      } catch {
        return this.primary; // the standby is down, or not a copy of this database
      }
      if (caughtUp) return this.replica;
      if (performance.now() >= deadline) return this.primary;
      await sleep(PROBE_EVERY_MS);
    }
  }

  #caughtUp(fence: SubscriberFence): Promise<boolean> {
    if (this.#probe?.fence === fence) return this.#probe.answer;
    const answer = this.replica.query<{ caught_up: boolean }>(CAUGHT_UP_SQL, [fence.seq, fence.lsn]).then(({ rows }) => {
      const caughtUp = rows[0]?.caught_up === true;
      if (caughtUp) this.#passed = fence;
      return caughtUp;
    });
    const probe = { fence, answer };
    this.#probe = probe;
    const forget = () => {
      if (this.#probe === probe) this.#probe = undefined;
    };
    answer.then(forget, forget);
    return answer;
  }
}
