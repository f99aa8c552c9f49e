import { isDatabaseBusy } from '../db/open.js';
import type { Logger } from '../logger.js';
import { CHANGE_LOG_KEPT } from '../subscribers/prune.js';
import type { SubscriberStorage } from '../subscribers/subscriber-storage.js';

/** How often the log is trimmed: a busy fleet's renewals add far fewer rows than are kept meanwhile. */
const TRIM_EVERY_MS = 10 * 60_000;
/** Rows deleted per transaction, the event loop getting a turn between two: a log left long (no prune for months) never stalls the server. */
const TRIM_BATCH = 5000;

export interface ChangeLogTrim {
  stop(): Promise<void>;
}

/**
 * Keeps the subscriber change log (one row per subscriber change, which servers read to forget only
 * who changed) to its last CHANGE_LOG_KEPT rows: at start, then every `everyMs`. The prune trims it
 * too, but without PRUNE_CRON nothing else would, and it would grow for ever. A server whose cursor
 * falls behind the trim forgets every subscriber (the log records the highest row ever trimmed).
 * A database held by another writer is left for the next tick.
 */
export function startChangeLogTrim(
  store: Pick<SubscriberStorage, 'trimChangeLog'>,
  logger: Logger,
  everyMs = TRIM_EVERY_MS,
): ChangeLogTrim {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const trim = async () => {
    try {
      while (!stopped && store.trimChangeLog(CHANGE_LOG_KEPT, TRIM_BATCH) === TRIM_BATCH) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      if (!isDatabaseBusy(error))
        logger.warn({ job: 'change-log-trim', err: (error as Error).message }, 'trimming the subscriber change log failed');
    }
  };
  const tick = () => {
    running = trim().finally(() => {
      running = undefined;
      if (!stopped) timer = setTimeout(tick, everyMs);
    });
  };
  timer = setTimeout(tick, 0);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
