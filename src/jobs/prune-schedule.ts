import type { Logger } from '../logger.js';
import type { LineupMetrics } from '../metrics.js';
import type { PruneResult } from '../subscribers/prune.js';
import { type CronSchedule, onCronSlots } from './cron-slots.js';

type PruneMetrics = Pick<LineupMetrics, 'pruneDeletions' | 'pruneFailures' | 'pruneRefusals'>;

export type PruneSchedule = CronSchedule;

/**
 * Runs `prune` on the cron expression, in UTC (see cron-slots.ts for how slots and clock jumps are
 * handled). A run that fails (a database held by a long admin transaction, say) is logged and
 * simply tried again at the next slot.
 */
export function schedulePrune(expression: string, prune: () => PruneResult, logger: Logger, metrics?: PruneMetrics): PruneSchedule {
  return onCronSlots(expression, 'prune', () => {
    runPruneOnce(prune, logger, metrics);
  });
}

/**
 * One tick of the schedule. It never throws: a failure is logged, counted, and left to the next
 * tick; a refusal (the clock or the count looked wrong) is a warning with its reason, counted.
 * @internal Exported so that tests run one tick.
 */
export function runPruneOnce(prune: () => PruneResult, logger: Logger, metrics?: PruneMetrics): PruneResult | undefined {
  try {
    const result = prune();
    if (result.refusal) {
      metrics?.pruneRefusals.inc({ reason: result.refusal.reason });
      logger.warn({ job: 'prune', reason: result.refusal.reason, wouldDelete: result.usernames.length }, result.refusal.message);
      return result;
    }
    metrics?.pruneDeletions.inc(result.usernames.length);
    logger.info(
      { job: 'prune', deleted: result.usernames.length, usernames: result.usernames, purged: result.purged },
      'prune finished; pruned subscribers are restorable for PRUNE_KEEP_DAYS',
    );
    return result;
  } catch (error) {
    metrics?.pruneFailures.inc();
    logger.warn({ job: 'prune', err: (error as Error).message }, 'prune failed; retrying on the next tick');
    return undefined;
  }
}
