import { type DefaultKey, GENERATED_KEY_SETTING, type LineupContext, SERVED_URL_SETTING } from './context.js';
import { DEMO_SUBSCRIBER, seedDemoLineup } from './db/seed.js';
import { holdServerLock } from './db/server-lock.js';
import { startChangeLogTrim } from './jobs/change-log-trim.js';
import { scheduleGuideFetch } from './jobs/epg-fetch-schedule.js';
import { type PruneMetrics, schedulePrune } from './jobs/prune-schedule.js';
import { pruneInThread, pruneJobOf, pruneThreadAvailable } from './jobs/prune-thread.js';
import { startRevocationSweep } from './jobs/revocation-sweep.js';
import type { Logger } from './logger.js';
import { recordServerSigning } from './signing-record.js';
import { advanceHeartbeat, pruneLapsedYielding, summaryOf } from './subscribers/prune.js';
import { DEFAULT_SUBSCRIPTION_DAYS, type SubscriberAdmin } from './subscribers/subscriber-admin.js';

export interface Housekeeping {
  /** The demo subscriber's URL, only on the first start of an empty database. */
  demoUrl?: string;
  /** Stops the prune schedule, ending a run in progress between two chunks, the change log's trim, and the guide fetch, aborting a download. */
  stop(): Promise<void>;
}

export interface HousekeepingOptions {
  logger: Logger;
  metrics: PruneMetrics;
  /** Seeds the demo lineup and subscriber on an empty database: `npm start` (`lineup serve --demo`) only. */
  seedDemo: boolean;
}

/**
 * The chores one process per database does, however many serve HTTP: remember the URL the server
 * announces and how it signs (admin commands print links on the one, and refuse to sign unlike
 * the other), say once when it signs with a generated key, seed the demo on an empty database if
 * asked, prune on PRUNE_CRON, keep the subscriber change log trimmed, end revoked stream sessions (closing Flussonic's through its API),
 * and fetch the programme guide from EPG_SOURCE_URL on EPG_FETCH_CRON. The database was migrated
 * when the context opened it.
 */
export function startHousekeeping(context: LineupContext, { logger, metrics, seedDemo }: HousekeepingOptions): Housekeeping {
  const { config } = context;
  // Until stop: `lineup db restore` refuses to replace the file this server has open.
  const lock = holdServerLock(config.dbPath, (message) => logger.warn(message));
  context.settings.set(SERVED_URL_SETTING, config.publicUrl);
  recordServerSigning(context);
  warnAboutGeneratedKey(context.defaultKey, logger);
  const demoUrl = seedDemo && seedDemoLineup(context.db, context.settings) ? addDemoSubscriber(context.subscriberAdmin) : undefined;
  // The prune job's heartbeat: moved on at each start, but never across a jump of the clock (see prune.ts).
  advanceHeartbeat(context.settings, context.clock(), config.pruneMaxGapDays);
  const safety = { heartbeat: context.settings, maxGapDays: config.pruneMaxGapDays, maxSharePercent: config.pruneMaxSharePercent };
  // On a thread of its own where it can (the built server): no chunk then holds this event loop,
  // which in one process also serves the playlists. From the sources (tests), yielding between chunks.
  const prune = (signal: AbortSignal) =>
    pruneThreadAvailable(config.dbPath)
      ? pruneInThread(pruneJobOf(config, context.clock()), signal)
      : pruneLapsedYielding(context.subscribers, context.clock, config.pruneGraceDays, {
          keepDays: config.pruneKeepDays,
          safety,
          signal,
        }).then(summaryOf);
  const job = config.pruneCron === undefined ? undefined : schedulePrune(config.pruneCron, prune, logger, metrics);
  // With PRUNE_CRON off, nothing else would keep the log from growing by a row per change for ever.
  const changeLogTrim = startChangeLogTrim(
    { trimChangeLog: (keep, limit) => context.subscribers.trimChangeLogWithoutWaiting(keep, limit) },
    logger,
  );
  const revocation = startRevocationSweep({
    backend: context.auth().backend,
    sessions: context.sessions(),
    clock: context.clock,
    logger,
    idleSeconds: config.authBackend.sessionIdle,
    flussonicApi: config.authBackend.flussonicApi,
  });
  const guideFetch =
    config.epgSource &&
    scheduleGuideFetch({ ...config.epgSource, epgFile: config.epgFile }, logger, () => {
      // Loaded now rather than at the guide's next look; a cluster's workers see it at theirs.
      void context.guide.check();
    });
  return {
    ...(demoUrl ? { demoUrl } : {}),
    stop: async () => {
      await revocation.stop();
      await Promise.all([job?.stop(), guideFetch?.stop(), changeLogTrim.stop()]);
      lock.release();
    },
  };
}

/** One warning per start, from the one process that does the housekeeping (on PostgreSQL, each node's), however many serve. */
export function warnAboutGeneratedKey(defaultKey: DefaultKey | undefined, logger: Logger): void {
  if (!defaultKey?.generated) return;
  logger.warn(
    defaultKey.created
      ? `SECURETOKEN_KEY is not set: generated a random key and stored it in the settings table (name ${GENERATED_KEY_SETTING}); configure the same key on the streaming server, or set SECURETOKEN_KEY`
      : `SECURETOKEN_KEY is not set: signing with the generated key in the settings table (name ${GENERATED_KEY_SETTING}); the streaming server must use the same key`,
  );
}

/** The demo subscriber, beside the demo lineup just seeded, on either backend; returns its URL. */
export function addDemoSubscriber(admin: Pick<SubscriberAdmin, 'add'>): string {
  return admin.add({
    username: DEMO_SUBSCRIBER.username,
    term: { days: DEFAULT_SUBSCRIPTION_DAYS },
    packages: [],
    maxConnections: 1,
    note: DEMO_SUBSCRIBER.note,
  }).url;
}
