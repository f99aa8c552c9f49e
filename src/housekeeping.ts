import { type LineupContext, SERVED_URL_SETTING } from './context.js';
import { seedDemoLineup } from './db/seed.js';
import { schedulePrune } from './jobs/prune-schedule.js';
import type { Logger } from './logger.js';
import type { LineupMetrics } from './metrics.js';
import { pruneLapsed } from './subscribers/prune.js';
import { DEFAULT_SUBSCRIPTION_DAYS } from './subscribers/subscriber-admin.js';

export interface Housekeeping {
  /** The demo subscriber's URL, only on the first start of an empty database. */
  demoUrl?: string;
  /** Stops the prune schedule, letting a run in progress finish. */
  stop(): Promise<void>;
}

export interface HousekeepingOptions {
  logger: Logger;
  metrics: Pick<LineupMetrics, 'pruneDeletions' | 'pruneFailures'>;
  /** Seeds the demo lineup and subscriber on an empty database. */
  seedDemo: boolean;
}

/**
 * The chores one process per database does, however many serve HTTP: remember the URL the server
 * announces (admin commands print links on it), seed the demo on an empty database, and prune on
 * PRUNE_CRON. The database was migrated when the context opened it.
 */
export function startHousekeeping(context: LineupContext, { logger, metrics, seedDemo }: HousekeepingOptions): Housekeeping {
  const { config } = context;
  context.settings.set(SERVED_URL_SETTING, config.publicUrl);
  const demoUrl = seedDemo ? seedDemoSubscriber(context) : undefined;
  const job =
    config.pruneCron === undefined
      ? undefined
      : schedulePrune(config.pruneCron, () => pruneLapsed(context.subscribers, context.clock, config.pruneGraceDays), logger, metrics);
  return { ...(demoUrl ? { demoUrl } : {}), stop: async () => void (await job?.stop()) };
}

/** The demo lineup and subscriber on the first start of an empty database; returns the demo URL. */
function seedDemoSubscriber(context: LineupContext): string | undefined {
  if (!seedDemoLineup(context.db, context.settings)) return undefined;
  return context.subscriberAdmin.add({
    username: 'demo',
    term: { days: DEFAULT_SUBSCRIPTION_DAYS },
    packages: [],
    maxConnections: 1,
    note: 'created by the first start',
  }).url;
}
