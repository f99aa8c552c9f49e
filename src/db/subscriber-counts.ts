import type { SubscriberState } from '../subscribers/subscriber.js';
import type { SqlTime } from '../time.js';
import type { Db } from './open.js';
import { ACTIVE_AT } from './subscriber-rules.js';

interface StateCount {
  state: SubscriberState;
  subscribers: number;
}

/**
 * How many subscribers are active, expired and disabled at a time: one statement, one pass over
 * the table, for the `/metrics` gauge. Disabled wins over expired, as `stateOf` in
 * subscribers/access.ts decides; a state nobody is in counts 0.
 */
export function subscriberCounter(db: Db): (at: SqlTime) => Record<SubscriberState, number> {
  const byState = db.prepare(`
    SELECT CASE WHEN ${ACTIVE_AT('s')} THEN 'active' WHEN s.enabled = 0 THEN 'disabled' ELSE 'expired' END AS state,
           count(*) AS subscribers
    FROM subscribers AS s GROUP BY 1`);
  return (at) => {
    const counts: Record<SubscriberState, number> = { active: 0, expired: 0, disabled: 0 };
    for (const row of byState.all(at) as StateCount[]) counts[row.state] = row.subscribers;
    return counts;
  };
}
