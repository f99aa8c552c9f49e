import { type Clock, toSqlTime } from '../time.js';
import type { SubscriberStorage } from './subscriber-storage.js';

export interface PruneResult {
  /** Subscribers whose subscription ended more than the grace period ago: deleted, or would be. */
  usernames: string[];
  /** Retired keys older than RETIRED_KEY_DAYS: forgotten (their URLs are unknown keys again), or would be. */
  forgottenKeys: number;
  dryRun: boolean;
}

/**
 * Deletes, in one statement, the subscribers whose `expires_at` is more than `graceDays` in the
 * past; their package links go with them, and their keys are retired (a trigger), so that their
 * URLs answer 410 Gone. Lapsed subscribers within the grace period stay (the playlist already
 * answers them 403), so that a late renewal keeps their URL. In the same run, retired keys past
 * the store's retention are forgotten, so that the table does not grow for ever.
 */
export function pruneLapsed(store: SubscriberStorage, clock: Clock, graceDays: number, dryRun = false): PruneResult {
  const now = clock();
  // Lapsed for longer than the grace period: already lapsed one second before it began.
  const lapsedBy = toSqlTime(now - graceDays * 86_400 - 1);
  if (dryRun) {
    const usernames = store.listLapsedBy(lapsedBy).map((subscriber) => subscriber.username);
    return { usernames, forgottenKeys: store.countForgottenRetiredKeys(now), dryRun };
  }
  const usernames = store.removeLapsedBy(lapsedBy);
  return { usernames, forgottenKeys: store.forgetRetiredKeys(now), dryRun };
}
