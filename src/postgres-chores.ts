import type pg from 'pg';
import type { Config } from './config.js';
import type { DefaultKey } from './context.js';
import { trimPostgresChangeLog } from './db/pg/change-log-trim.js';
import type { PostgresSettingsStore } from './db/pg/settings-store.js';
import { addDemoSubscriber, warnAboutGeneratedKey } from './housekeeping.js';
import { startChangeLogTrim } from './jobs/change-log-trim.js';
import { type PruneMetrics, schedulePrune } from './jobs/prune-schedule.js';
import { pruneInThread, pruneJobOf, pruneThreadAvailable } from './jobs/prune-thread.js';
import type { Logger } from './logger.js';
import { seedPostgresDemo } from './postgres-admin-parts.js';
import { SIGNING_SETTING, serverSigningRecord } from './signing-record.js';
import { advanceHeartbeat, PRUNE_HEARTBEAT_SETTING } from './subscribers/prune.js';
import type { Clock } from './time.js';

export interface NodeChores {
  /** The demo subscriber's URL, only from the node that seeded an empty database with --demo. */
  demoUrl?: string;
  /** Stops the prune schedule (ending a run in progress between two chunks) and the change log's trim. */
  stop(): Promise<void>;
}

export interface NodeChoresOptions {
  config: Config;
  pool: pg.Pool;
  settings: PostgresSettingsStore;
  defaultKey: DefaultKey;
  clock: Clock;
  logger: Logger;
  metrics: PruneMetrics;
  /** `lineup serve --demo`. */
  seedDemo: boolean;
}

/**
 * What startHousekeeping (housekeeping.ts) does for a SQLite server, for a node on a PostgreSQL
 * database that other nodes share, each chore done by one node at a time: record how this node
 * signs (the last node started is the one admin commands match), warn about a generated key,
 * seed the demo on an empty database if asked (one node of those started at once), prune on
 * PRUNE_CRON (on every node's schedule, run by whichever takes the prune lock: the others count
 * it held), and trim the subscriber change log (one node at a time). The node migrated the
 * database before.
 */
export async function startPostgresChores(options: NodeChoresOptions): Promise<NodeChores> {
  const { config, pool, settings, defaultKey, clock, logger } = options;
  await settings.set(SIGNING_SETTING, serverSigningRecord({ config, defaultKey }));
  warnAboutGeneratedKey(defaultKey, logger);
  const demoUrl = options.seedDemo ? seedPostgresDemo(config, clock, addDemoSubscriber) : undefined;
  await advancePruneHeartbeat(settings, clock(), config.pruneMaxGapDays);
  const prune = config.pruneCron === undefined ? undefined : schedulePostgresPrune(config.pruneCron, options);
  const changeLogTrim = startChangeLogTrim({ trimChangeLog: (keep, limit) => trimPostgresChangeLog(pool, keep, limit) }, logger);
  return {
    ...(demoUrl ? { demoUrl } : {}),
    stop: async () => {
      await Promise.all([prune?.stop(), changeLogTrim.stop()]);
    },
  };
}

/**
 * advanceHeartbeat's rule on the shared settings, read and written around it: nodes that start
 * together each move it to about the same time, forward only.
 */
async function advancePruneHeartbeat(settings: PostgresSettingsStore, now: number, maxGapDays: number): Promise<void> {
  const last = await settings.get(PRUNE_HEARTBEAT_SETTING);
  let moved: string | undefined;
  advanceHeartbeat(
    {
      get: () => last,
      set: (_name, value) => {
        moved = value;
      },
    },
    now,
    maxGapDays,
  );
  if (moved !== undefined) await settings.set(PRUNE_HEARTBEAT_SETTING, moved);
}

/**
 * The prune on the prune thread, over its own connections (the admin commands' synchronous
 * bridge), so that no chunk holds this node's event loop; it runs from the build only. A run on a
 * node whose tick finds another node's prune holding the lock ends at once, counted as held.
 */
function schedulePostgresPrune(expression: string, { config, clock, logger, metrics }: NodeChoresOptions) {
  if (!pruneThreadAvailable(config.dbPath)) {
    logger.warn({ job: 'prune' }, 'PRUNE_CRON: on PostgreSQL the prune runs from the build (dist/) only; not scheduled here');
    return undefined;
  }
  return schedulePrune(expression, (signal) => pruneInThread(pruneJobOf(config, clock()), signal), logger, metrics);
}
