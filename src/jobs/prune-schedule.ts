import type { Logger } from '../logger.js';
import type { LineupMetrics } from '../metrics.js';
import type { PruneResult, PruneSummary } from '../subscribers/prune.js';
import { type CronSchedule, onCronSlots } from './cron-slots.js';

export type PruneMetrics = Pick<LineupMetrics, 'pruneDeletions' | 'pruneFailures' | 'pruneRefusals' | 'pruneSkips'>;

export type PruneSchedule = CronSchedule;

/**
 * One run; the server's yields between chunks and ends early once `signal` aborts. Undefined: it
 * ran nothing, because another node on the same PostgreSQL database held the prune lock.
 */
type PruneRun = (signal: AbortSignal) => Reported | undefined | Promise<Reported | undefined>;

/** What a tick reports: the server's summary, or a whole result (a run in the same thread, in tests). */
type Reported = PruneResult | PruneSummary;

/**
 * Runs `prune` on the cron expression, in UTC (see cron-slots.ts for how slots and clock jumps are
 * handled; a run still going at the next slot is never overlapped). A run that fails (a database
 * held by a long admin transaction, say) is logged and simply tried again at the next slot.
 * Stopping ends a run in progress between two chunks and waits for it.
 */
export function schedulePrune(expression: string, prune: PruneRun, logger: Logger, metrics?: PruneMetrics): PruneSchedule {
  const stopping = new AbortController();
  const schedule = onCronSlots(expression, 'prune', () => {
    const outcome = runPruneOnce(() => prune(stopping.signal), logger, metrics);
    if (outcome instanceof Promise) return outcome.then(() => undefined);
  });
  return {
    stop: async () => {
      stopping.abort();
      await schedule.stop();
    },
  };
}

/**
 * One tick of the schedule. It never throws: a failure is logged, counted, and left to the next
 * tick; a refusal (the clock or the count looked wrong) is a warning with its reason, counted.
 * A synchronous prune is reported in the same turn, an asynchronous one when it settles.
 * @internal Exported so that tests run one tick.
 */
export function runPruneOnce<R extends Reported>(prune: () => R, logger: Logger, metrics?: PruneMetrics): R | undefined;
export function runPruneOnce<R extends Reported>(
  prune: () => R | undefined | Promise<R | undefined>,
  logger: Logger,
  metrics?: PruneMetrics,
): R | undefined | Promise<R | undefined>;
export function runPruneOnce<R extends Reported>(
  prune: () => R | undefined | Promise<R | undefined>,
  logger: Logger,
  metrics?: PruneMetrics,
): R | undefined | Promise<R | undefined> {
  const failed = (error: unknown) => {
    metrics?.pruneFailures.inc();
    logger.warn({ job: 'prune', err: (error as Error).message }, 'prune failed; retrying on the next tick');
    return undefined;
  };
  const report = (result: R | undefined) => {
    if (result) reportPrune(result, logger, metrics);
    else reportHeld(logger, metrics);
    return result;
  };
  try {
    const result = prune();
    return result instanceof Promise ? result.then(report, failed) : report(result);
  } catch (error) {
    return failed(error);
  }
}

/** One line per skipped run, at info: on a cluster every node but one skips each tick, and that is as meant. */
function reportHeld(logger: Logger, metrics?: PruneMetrics): void {
  metrics?.pruneSkips.inc({ reason: 'held' });
  logger.info({ job: 'prune', reason: 'held' }, 'prune skipped: another node is pruning this database (it holds the prune lock)');
}

function reportPrune(result: Reported, logger: Logger, metrics?: PruneMetrics): void {
  const deleted = 'deleted' in result ? result.deleted : result.usernames.length;
  if (result.refusal) {
    metrics?.pruneRefusals.inc({ reason: result.refusal.reason });
    logger.warn({ job: 'prune', reason: result.refusal.reason, wouldDelete: deleted }, result.refusal.message);
    return;
  }
  metrics?.pruneDeletions.inc(deleted);
  if (result.stopped) {
    logger.info({ job: 'prune', deleted }, 'prune stopped with the server; the next run prunes the rest');
    return;
  }
  logger.info(
    // The count, not the names: a prune of 200,000 would write them all into one log line.
    { job: 'prune', deleted, purged: result.purged, forgottenKeys: result.forgottenKeys },
    'prune finished; pruned subscribers are restorable for PRUNE_KEEP_DAYS',
  );
}
