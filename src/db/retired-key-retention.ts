import { type Clock, type SqlTime, toSqlTime } from '../time.js';

/** How long a retired key keeps its answer (410 Gone, 403 replaced), on which clock. */
export interface RetiredKeyRetention {
  days: number;
  clock: Clock;
}

/**
 * A key retired at T is forgotten from the very second T + the retention, the way a subscription
 * lapses at the very second of expires_at: retired_at at or before this time is past it.
 */
export function retiredKeysForgottenBy(retention: RetiredKeyRetention, now: number): SqlTime {
  return toSqlTime(now - retention.days * 86_400);
}
