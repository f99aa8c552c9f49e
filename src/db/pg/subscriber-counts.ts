import type pg from 'pg';
import type { SubscriberState } from '../../subscribers/subscriber.js';
import type { SqlTime } from '../../time.js';
import { ACTIVE_AT } from '../subscriber-rules.js';
import { numbered } from './placeholders.js';

const BY_STATE = {
  name: 'lineup_subscriber_counts',
  text: numbered(`
    SELECT CASE WHEN ${ACTIVE_AT('s')} THEN 'active' WHEN s.enabled = 0 THEN 'disabled' ELSE 'expired' END AS state,
           count(*) AS subscribers
    FROM subscribers AS s GROUP BY 1`),
};

/** subscriberCounter (db/subscriber-counts.ts) on PostgreSQL: the same counts for the `/metrics` gauge. */
export function postgresSubscriberCounter(pool: pg.Pool): (at: SqlTime) => Promise<Record<SubscriberState, number>> {
  return async (at) => {
    const counts: Record<SubscriberState, number> = { active: 0, expired: 0, disabled: 0 };
    const { rows } = await pool.query<{ state: SubscriberState; subscribers: number }>({ ...BY_STATE, values: [at] });
    for (const row of rows) counts[row.state] = row.subscribers;
    return counts;
  };
}
