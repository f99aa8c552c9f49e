import cron from 'node-cron';
import type { Logger } from '../logger.js';
import type { LineupMetrics } from '../metrics.js';
import type { PruneResult } from '../subscribers/prune.js';

type PruneMetrics = Pick<LineupMetrics, 'pruneDeletions' | 'pruneFailures' | 'pruneRefusals'>;

/**
 * The longest the schedule sleeps before it reads the wall clock again. A timer counts monotonic
 * time, so after a jump of the wall clock the schedule notices within this long: a forward jump
 * runs the job once, a backward one moves the next run back to the next slot of the new time.
 */
const MAX_SLEEP_MS = 60_000;

export interface PruneSchedule {
  /** Stops the schedule. A run is synchronous, so none is in progress when this is called. */
  stop(): Promise<void>;
}

/**
 * Runs `prune` on the cron expression, in UTC: after each slot passes, once, then at the next slot
 * after the current time. node-cron only computes the slots (a task that is never started: it
 * prints nothing and holds no timer); the timer is ours, because node-cron's own runner walks every
 * slot a forward clock jump skipped, printing a non-JSON "missed execution" line for each (9,601
 * for +400 days hourly) and stalling the process while it does. A run that fails (a database held
 * by a long admin transaction, say) is logged and simply tried again at the next slot.
 */
export function schedulePrune(expression: string, prune: () => PruneResult, logger: Logger, metrics?: PruneMetrics): PruneSchedule {
  const slots = cron.createTask(expression, () => undefined, { name: 'prune', timezone: 'UTC' });
  const nextSlot = () => slots.getNextRuns(1)[0]!.getTime();
  let next = nextSlot();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (Date.now() >= next) runPruneOnce(prune, logger, metrics);
    // Strictly after now: one run however many slots a jump skipped, and an earlier slot after a jump back.
    next = nextSlot();
    arm();
  };
  const arm = () => {
    timer = setTimeout(tick, Math.min(Math.max(0, next - Date.now()), MAX_SLEEP_MS));
  };
  arm();
  return {
    stop: async () => {
      clearTimeout(timer);
      await slots.destroy();
    },
  };
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
      // The count, not the names: a prune of 200,000 would write them all into one log line.
      { job: 'prune', deleted: result.usernames.length, purged: result.purged, forgottenKeys: result.forgottenKeys },
      'prune finished; pruned subscribers are restorable for PRUNE_KEEP_DAYS',
    );
    return result;
  } catch (error) {
    metrics?.pruneFailures.inc();
    logger.warn({ job: 'prune', err: (error as Error).message }, 'prune failed; retrying on the next tick');
    return undefined;
  }
}
