import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../logger.js';
import type { LineupMetrics } from '../metrics.js';
import type { PruneResult } from '../subscribers/prune.js';

/**
 * Runs `prune` on the cron expression, in UTC. Runs never overlap. A run that fails (a database
 * held by a long admin transaction, say) is logged and simply tried again on the next tick.
 */
export function schedulePrune(
  expression: string,
  prune: () => PruneResult,
  logger: Logger,
  metrics?: Pick<LineupMetrics, 'pruneDeletions' | 'pruneFailures'>,
): ScheduledTask {
  return cron.schedule(expression, () => runPruneOnce(prune, logger, metrics), {
    name: 'prune',
    timezone: 'UTC',
    noOverlap: true,
  });
}

/**
 * One tick of the schedule. It never throws: a failure is logged, counted, and left to the next tick.
 * @internal Exported so that tests run one tick.
 */
export function runPruneOnce(
  prune: () => PruneResult,
  logger: Logger,
  metrics?: Pick<LineupMetrics, 'pruneDeletions' | 'pruneFailures'>,
): PruneResult | undefined {
  try {
    const result = prune();
    metrics?.pruneDeletions.inc(result.usernames.length);
    logger.info({ job: 'prune', deleted: result.usernames.length, usernames: result.usernames }, 'prune finished');
    return result;
  } catch (error) {
    metrics?.pruneFailures.inc();
    logger.warn({ job: 'prune', err: (error as Error).message }, 'prune failed; retrying on the next tick');
    return undefined;
  }
}
