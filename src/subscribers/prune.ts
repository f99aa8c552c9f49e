import { type Clock, toSqlTime } from '../time.js';
import type { SubscriberStorage } from './subscriber-storage.js';

export interface PruneResult {
  /** Subscribers whose subscription ended more than the grace period ago: deleted, or would be. */
  usernames: string[];
  dryRun: boolean;
}

/**
 * Deletes, in one statement, the subscribers whose `expires_at` is more than `graceDays` in the
 * past; their package links go with them. Lapsed subscribers within the grace period stay (the
 * playlist already answers them 403), so that a late renewal keeps their URL.
 */
export function pruneLapsed(store: SubscriberStorage, clock: Clock, graceDays: number, dryRun = false): PruneResult {
  // Lapsed for longer than the grace period: already lapsed one second before it began.
  const lapsedBy = toSqlTime(clock() - graceDays * 86_400 - 1);
  const usernames = dryRun ? store.listLapsedBy(lapsedBy).map((subscriber) => subscriber.username) : store.removeLapsedBy(lapsedBy);
  return { usernames, dryRun };
}
