import type { Awaitable } from '../awaitable.js';
import { isDatabaseBusy } from '../db/open.js';
import type { Logger } from '../logger.js';
import { CHANGE_LOG_KEPT } from '../subscribers/prune.js';

/** How often the log is trimmed: a busy fleet's renewals add far fewer rows than are kept meanwhile. */
const TRIM_EVERY_MS = 10 * 60_000;
/**
 * Rows deleted per transaction, resting as long as each took: a log left long (2,000,000 rows
 * after an upgrade, say) is trimmed in short steps that requests pass between. A batch of 5,000
 * held the event loop 5 ms (18 ms at worst) on the loaded bench machine, one of 1,000 under 1 ms.
 */
const TRIM_BATCH = 1000;

export interface ChangeLogTrim {
  stop(): Promise<void>;
}

/**
 * Keeps the subscriber change log (one row per subscriber change, which servers read to forget only
 * who changed) to its last CHANGE_LOG_KEPT rows: at start, then every `everyMs`. The prune trims it
 * too, but without PRUNE_CRON nothing else would, and it would grow for ever. A server whose cursor
 * falls behind the trim forgets every subscriber (the log records the highest row ever trimmed).
 * On SQLite the store answers SQLITE_BUSY at once while another connection writes (a chunk of
 * `lineup prune`, which the server must not wait for in its event loop), and the rest waits for
 * the next tick: tried again a second later, the trim went on through the whole prune, its
 * commits checkpointing (an fsync) in the event loop, for rows the prune trims at its end anyway
 * (docs/performance.md). On PostgreSQL (db/pg/change-log-trim.ts) a batch returns 0 while another
 * node trims, which ends this tick's trim.
 */
export function startChangeLogTrim(
  store: { trimChangeLog(keep: number, limit: number): Awaitable<number> },
  logger: Logger,
  everyMs = TRIM_EVERY_MS,
): ChangeLogTrim {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const trim = async () => {
    let trimmed = 0;
    try {
      for (;;) {
        const started = performance.now();
        if (stopped) break;
        const deleted = await store.trimChangeLog(CHANGE_LOG_KEPT, TRIM_BATCH);
        trimmed += deleted;
        if (deleted < TRIM_BATCH) break;
        await new Promise((resolve) => setTimeout(resolve, performance.now() - started));
      }
      if (trimmed > 0) logger.info({ job: 'change-log-trim', deleted: trimmed }, 'trimmed the subscriber change log');
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
