import { type Clock, fromSqlTime, toSqlTime } from '../time.js';
import type { SubscriberStorage } from './subscriber-storage.js';

const DAY = 86_400;

/**
 * The settings row holding the last time (`YYYY-MM-DD HH:MM:SS`, UTC) Lineup saw the clock: server start and every prune run.
 */
export const PRUNE_HEARTBEAT_SETTING = 'prune_heartbeat';

/**
 * Subscribers moved per transaction. One statement for 200,000 held the write lock for the whole
 * run (30–50 s on the loaded bench machine) and grew the write-ahead log to 342 MB, which stayed.
 * Each chunk rewrites the index pages its random keys land on, so small chunks multiply the
 * writes: 200 chunks of 1,000 took 20 s of CPU and 8 GB of writes, 40 of 5,000 16.6 s and 5.6 GB,
 * one statement 12.6 s and 3.5 GB (docs/performance.md). Chunks of 10,000 cost more CPU per
 * subscriber again (2.5–3.3 s a chunk). 5,000 keeps each transaction well under the 5 s other
 * writers wait for a lock. The store checkpoints every few chunks (db/bulk-write-log.ts).
 */
const PRUNE_CHUNK = 5000;

/** How long a pruned subscriber stays restorable when the caller does not say (PRUNE_KEEP_DAYS' default). */
const DEFAULT_PRUNE_KEEP_DAYS = 30;

/** Name/value settings; db/settings-store.ts fits. */
export interface HeartbeatStore {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

/** Why a run removed nobody: the clock jumped far past the heartbeat, or too many would go at once. */
type PruneRefusalReason = 'clock_gap' | 'share';

interface PruneRefusal {
  reason: PruneRefusalReason;
  /** One line for the log and the CLI: what looked wrong and how to go on. */
  message: string;
}

/** What keeps a wrong clock or a wrong rule from emptying the subscribers table. */
interface PruneSafety {
  heartbeat: HeartbeatStore;
  /** PRUNE_MAX_GAP_DAYS. */
  maxGapDays: number;
  /** PRUNE_MAX_SHARE: percent of the subscribers one run may remove (one subscriber is always allowed). */
  maxSharePercent: number;
  /** `lineup prune --confirm-clock`: the operator vouches for the clock and the count. */
  confirmClock?: boolean;
}

export interface PruneOptions {
  dryRun?: boolean;
  /** PRUNE_KEEP_DAYS: days a pruned subscriber stays restorable before the run purges it. */
  keepDays?: number;
  /** Every run of the server and the CLI passes it; without it (tests of the deletion rule alone) nothing is refused. */
  safety?: PruneSafety;
  /** Called with each chunk's usernames once it has committed (`lineup prune --verbose`). */
  onChunk?: (usernames: readonly string[]) => void;
  /** Subscribers per transaction; tests make it small. */
  chunkSize?: number;
}

export interface PruneResult {
  /** Subscribers whose subscription ended more than the grace period ago: recycled, or would be (or would have been, if refused). */
  usernames: string[];
  /** Retired keys older than RETIRED_KEY_DAYS: forgotten (their URLs are unknown keys again), or would be. */
  forgottenKeys: number;
  /** Recycled subscribers older than PRUNE_KEEP_DAYS: deleted for good, or would be. */
  purged: number;
  dryRun: boolean;
  /** Set when the run changed nothing because the clock or the count looked wrong. */
  refusal?: PruneRefusal;
  /** Set when the server stopped during the run: `usernames` are the chunks done; the next run takes the rest. */
  stopped?: boolean;
}

/**
 * A run's result as the server's prune job reports it: how many were recycled, not who. From the
 * prune thread, 200,000 names crossing to the server's thread held its event loop for about 70 ms
 * (the structured clone is read there) for a log line that gives the count.
 */
export type PruneSummary = Omit<PruneResult, 'usernames'> & { deleted: number };

export function summaryOf({ usernames, ...rest }: PruneResult): PruneSummary {
  return { ...rest, deleted: usernames.length };
}

/**
 * Moves the heartbeat to `now` (server start, and every prune run that is not refused), forward
 * only and by at most `maxGapDays`, unless `confirmed` (`--confirm-clock`), which sets it to `now`
 * whatever it was. So a jumped clock cannot move the heartbeat along with it: neither a restart nor
 * a run that happens to remove nobody hides the gap from the next run that would remove someone.
 * Returns whether it moved.
 */
export function advanceHeartbeat(heartbeat: HeartbeatStore, now: number, maxGapDays: number, confirmed = false): boolean {
  const last = lastHeartbeat(heartbeat);
  if (!confirmed && last !== undefined && (now <= last || now - last > maxGapDays * DAY)) return false;
  heartbeat.set(PRUNE_HEARTBEAT_SETTING, toSqlTime(now));
  return true;
}

/**
 * The last heartbeat, or undefined when there is none or it is unreadable (a database that no
 * server started since the heartbeat came, or a hand edit): then the gap rule cannot judge.
 */
function lastHeartbeat(heartbeat: HeartbeatStore): number | undefined {
  const value = heartbeat.get(PRUNE_HEARTBEAT_SETTING);
  if (value === undefined) return undefined;
  const seconds = fromSqlTime(value);
  return Number.isFinite(seconds) ? seconds : undefined;
}

/**
 * A run that would remove someone is refused when the wall clock is more than `maxGapDays` ahead
 * of the heartbeat (a wrong NTP source, a typo in `date -s`, a restored VM: the clock is the one
 * thing that decides who has lapsed), or when it would remove more than `maxSharePercent` of the
 * subscribers. A run that would remove nobody is never refused (it moves the heartbeat on, within
 * the gap).
 */
function refusalOf(safety: PruneSafety, now: number, removing: number, total: number): PruneRefusal | undefined {
  if (removing === 0 || safety.confirmClock) return undefined;
  const last = lastHeartbeat(safety.heartbeat);
  if (last !== undefined && now - last > safety.maxGapDays * DAY) {
    const days = Math.floor((now - last) / DAY);
    return {
      reason: 'clock_gap',
      message: `prune refused: the clock reads ${toSqlTime(now)} UTC, ${days} days after Lineup last saw it (${toSqlTime(last)} UTC, more than PRUNE_MAX_GAP_DAYS ${safety.maxGapDays}), and ${removing} would be pruned; check the clock, then run lineup prune --confirm-clock`,
    };
  }
  const allowed = Math.max(1, Math.floor((total * safety.maxSharePercent) / 100));
  if (removing > allowed) {
    return {
      reason: 'share',
      message: `prune refused: ${removing} of ${total} subscribers would be pruned, more than PRUNE_MAX_SHARE ${safety.maxSharePercent}%; check the clock and the expiry dates (lineup prune --dry-run), then run lineup prune --confirm-clock`,
    };
  }
  return undefined;
}

/**
 * Moves the subscribers whose `expires_at` is more than `graceDays` in the past to the recycle
 * table and deletes them, a chunk per transaction; their package links go with them, and their keys
 * are retired (a trigger), so that their URLs answer 410 Gone until `lineup subscriber restore`.
 * A run stopped half-way has moved whole chunks only, and the next run takes the rest. The
 * write-ahead log is truncated afterwards.
 * Lapsed subscribers within the grace period stay (the playlist already answers them 403), so that
 * a late renewal keeps their URL. In the same run, recycled subscribers past `keepDays` are purged
 * and retired keys past the store's retention are forgotten, so that neither table grows for ever.
 * With `safety`, a run that looks wrong (see refusalOf) changes nothing, not even the heartbeat.
 * This driver runs every chunk in one go, on a thread that serves nothing (`lineup prune`, and the
 * server's prune thread, jobs/prune-thread.ts), which rests in `onChunk` and ends between two
 * chunks once `stopRequested` says so; pruneLapsedYielding lets requests in between instead.
 */
export function pruneLapsed(
  store: SubscriberStorage,
  clock: Clock,
  graceDays: number,
  options: PruneOptions & { stopRequested?: () => boolean } = {},
): PruneResult {
  const steps = pruneSteps(store, clock, graceDays, options);
  const done: string[] = [];
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done) return step.value;
    options.onChunk?.(step.value);
    for (const username of step.value) done.push(username);
    if (options.stopRequested?.()) return stoppedAfter(store, done);
  }
}

/**
 * A run that ended between two chunks: those done stay committed, and are checkpointed now (the
 * last few chunks' are still in the write-ahead log); retired keys, purges and the trim wait for
 * the next run.
 */
function stoppedAfter(store: SubscriberStorage, done: string[]): PruneResult {
  store.truncateWriteAheadLog();
  return { usernames: done.sort(), forgottenKeys: 0, purged: 0, dryRun: false, stopped: true };
}

/**
 * pruneLapsed for a process that serves requests: after each chunk it waits (a timer, so the event
 * loop serves what arrived meanwhile) as long as the chunk took, so that a prune of 200,000, about
 * 40 chunks, leaves the server answering throughout instead of stalling for the whole run. Once
 * `signal` aborts (the server stops), it ends before the next chunk: the chunks done stay
 * committed, the rest waits for the next run, and the result says `stopped`.
 */
export async function pruneLapsedYielding(
  store: SubscriberStorage,
  clock: Clock,
  graceDays: number,
  options: PruneOptions & { signal?: AbortSignal } = {},
): Promise<PruneResult> {
  const { signal } = options;
  const steps = pruneSteps(store, clock, graceDays, options);
  const done: string[] = [];
  let since = performance.now();
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done) return step.value;
    options.onChunk?.(step.value);
    for (const username of step.value) done.push(username);
    await pause(performance.now() - since, signal);
    if (signal?.aborted) return stoppedAfter(store, done);
    since = performance.now();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}

/**
 * Rows of the subscriber change log kept after a prune and by housekeeping's periodic trim: a few
 * minutes of renewals for a large fleet. A server further behind forgets every subscriber.
 */
export const CHANGE_LOG_KEPT = 20_000;

/** The run as steps: each `next()` commits one chunk and yields its usernames; the last returns the result. */
function* pruneSteps(
  store: SubscriberStorage,
  clock: Clock,
  graceDays: number,
  options: PruneOptions,
): Generator<readonly string[], PruneResult, void> {
  const { dryRun = false, keepDays = DEFAULT_PRUNE_KEEP_DAYS, safety, chunkSize = PRUNE_CHUNK } = options;
  const now = clock();
  // Lapsed for longer than the grace period: already lapsed one second before it began.
  const lapsedBy = toSqlTime(now - graceDays * DAY - 1);
  // Pruned exactly keepDays ago: no longer kept, the way a retired key is forgotten.
  const purgeBy = toSqlTime(now - keepDays * DAY);
  const lapsed = store.countLapsedBy(lapsedBy);
  const refusal = safety ? refusalOf(safety, now, lapsed, store.countAll()) : undefined;
  if (dryRun || refusal) {
    return {
      usernames: store.listLapsedBy(lapsedBy).map((subscriber) => subscriber.username),
      forgottenKeys: store.countForgottenRetiredKeys(now),
      purged: store.countPurgeableBy(purgeBy),
      dryRun,
      ...(refusal ? { refusal } : {}),
    };
  }
  const usernames: string[] = [];
  // No more than were counted and judged above: one that lapses meanwhile (an admin's UPDATE) waits
  // for the next run and its own check.
  try {
    while (usernames.length < lapsed) {
      const chunk = store.recycleLapsedBy(lapsedBy, toSqlTime(now), Math.min(chunkSize, lapsed - usernames.length));
      if (chunk.length === 0) break; // renewed meanwhile
      yield chunk;
      for (const username of chunk) usernames.push(username);
    }
  } catch (error) {
    // A chunk that failed (a lock held past the busy timeout, say) leaves the chunks before it in
    // the write-ahead log, held back from every other checkpoint until this ends the bulk write.
    try {
      store.truncateWriteAheadLog();
    } catch {
      // The chunk's own error says more.
    }
    throw error;
  }
  usernames.sort();
  const result = { usernames, forgottenKeys: store.forgetRetiredKeys(now), purged: store.purgePrunedBy(purgeBy), dryRun };
  // Servers read the log within an event-loop turn of each chunk's commit: the prune's own rows are
  // read already, and a server further behind than what is kept forgets all, as it did before the log.
  store.trimChangeLog(CHANGE_LOG_KEPT);
  if (safety) advanceHeartbeat(safety.heartbeat, now, safety.maxGapDays, safety.confirmClock);
  store.truncateWriteAheadLog();
  return result;
}
