import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../logger.js';
import type { PruneResult } from '../subscribers/prune.js';

/**
 * Runs `prune` on the cron expression, in UTC. Runs never overlap. A run that fails (a database
 * held by a long admin transaction, say) is logged and simply tried again on the next tick.
 */
export function schedulePrune(expression: string, prune: () => PruneResult, logger: Logger): ScheduledTask {
  return cron.schedule(
    expression,
    () => {
      try {
        const { usernames } = prune();
        logger.info({ job: 'prune', deleted: usernames.length, usernames }, 'prune finished');
      } catch (error) {
        logger.warn({ job: 'prune', err: (error as Error).message }, 'prune failed; retrying on the next tick');
      }
    },
    { name: 'prune', timezone: 'UTC', noOverlap: true },
  );
}
