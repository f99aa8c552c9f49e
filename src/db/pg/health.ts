import type pg from 'pg';
import type { HealthProblem } from '../database-health.js';
import { pingPostgres } from './ping.js';

/** How often the database is asked: `/healthz` answers from the last answer, never waiting on the network. */
const PING_MS = 1000;
/** A ping that takes longer counts as a database that does not answer. */
const PING_TIMEOUT_MS = 2000;

export interface PostgresHealth {
  /** Undefined while the last ping answered. */
  problem(): HealthProblem | undefined;
  /** `feed: live | down`: whether this node hears of changes as they commit, or reads through. */
  details(): Record<string, string>;
  stop(): void;
}

/**
 * `/healthz` on PostgreSQL: 200 while the database answers, whatever the change feed's state (a
 * node whose feed is down still serves correctly, reading every subscriber through), which the
 * answer reports for monitoring.
 */
export function postgresHealth(pool: pg.Pool, feed: { readonly live: boolean }): PostgresHealth {
  let problem: HealthProblem | undefined;
  let asking = false;
  const ping = async () => {
    if (asking) return;
    asking = true;
    const reason = await pingPostgres(pool, PING_TIMEOUT_MS);
    problem = reason === undefined ? undefined : { check: 'database', reason };
    asking = false;
  };
  const timer = setInterval(() => void ping(), PING_MS);
  timer.unref();
  return {
    problem: () => problem,
    details: () => ({ feed: feed.live ? 'live' : 'down' }),
    stop: () => clearInterval(timer),
  };
}
