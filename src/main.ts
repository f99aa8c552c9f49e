import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ScheduledTask } from 'node-cron';
import { workerMetrics } from './cluster/cluster-metrics.js';
import type { Config } from './config.js';
import { type LineupContext, openContext, SERVED_URL_SETTING } from './context.js';
import { seedDemoLineup } from './db/seed.js';
import { createHttpApp } from './http/app.js';
import { SERVER_LIMITS } from './http/input-limits.js';
import { schedulePrune } from './jobs/prune-schedule.js';
import type { Logger } from './logger.js';
import { createMetrics, type LineupMetrics } from './metrics.js';
import { pruneLapsed } from './subscribers/prune.js';
import { DEFAULT_SUBSCRIPTION_DAYS } from './subscribers/subscriber-admin.js';
import type { Clock } from './time.js';

export interface RunningLineup {
  context: LineupContext;
  server: Server;
  metrics: LineupMetrics;
  /** Where the server listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The demo subscriber's URL, only on the first start of an empty database. */
  demoUrl?: string;
  /** Stops accepting, lets requests in flight finish, stops the job, closes the database. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  clock?: Clock;
  /** Tests turn the schedule off and call prune themselves. */
  schedulePrune?: boolean;
  /** Seeds the demo lineup on an empty database (the default for `lineup serve`). */
  seedDemo?: boolean;
  /**
   * Runs as one of WORKERS processes (cluster/primary.ts): the primary seeds and prunes, `/metrics`
   * covers every process, and ETags carry the primary's instance id so that they match across workers.
   */
  worker?: { instanceId: string };
}

/** The demo lineup and subscriber on the first start of an empty database; returns the demo URL. */
export function seedDemo(context: LineupContext): string | undefined {
  if (!seedDemoLineup(context.db, context.settings)) return undefined;
  return context.subscriberAdmin.add({
    username: 'demo',
    term: { days: DEFAULT_SUBSCRIPTION_DAYS },
    packages: [],
    maxConnections: 1,
    note: 'created by the first start',
  }).url;
}

/** The composition root: config → database → HTTP and jobs. */
export async function startLineup(config: Config, options: StartOptions): Promise<RunningLineup> {
  const { logger, worker } = options;
  const context = openContext(config, { ...options, ...(worker ? { instanceId: worker.instanceId } : {}) });
  context.settings.set(SERVED_URL_SETTING, config.publicUrl);
  const demoUrl = options.seedDemo !== false && !worker ? seedDemo(context) : undefined;

  const metrics = createMetrics();
  const clusterMetrics = worker ? workerMetrics(metrics.registry) : undefined;
  const ping = context.db.prepare('SELECT 1').pluck();
  const app = createHttpApp({
    playlists: context.playlists,
    redirects: context.redirects,
    epgFile: config.epgFile,
    databaseAnswers: () => {
      try {
        return ping.get() === 1;
      } catch {
        return false;
      }
    },
    trustProxy: config.trustProxy.list,
    logger,
    metrics,
    guessLimits: config.guessLimits,
    metricsToken: config.metricsToken,
    ...(clusterMetrics ? { metricsExposition: { contentType: metrics.registry.contentType, text: clusterMetrics.text } } : {}),
  });

  const server = createServer(SERVER_LIMITS, app.callback()).listen(config.port, config.host);
  try {
    await once(server, 'listening');
  } catch (error) {
    clusterMetrics?.close();
    context.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let job: ScheduledTask | undefined;
  if (options.schedulePrune !== false && !worker) {
    job = schedulePrune(
      config.pruneCron,
      () => pruneLapsed(context.subscribers, context.clock, config.pruneGraceDays),
      logger,
      metrics,
    );
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await job?.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      clusterMetrics?.close();
      context.close();
    })();
    return stopping;
  };

  return { context, server, metrics, url: `http://${host}:${address.port}`, ...(demoUrl ? { demoUrl } : {}), stop };
}
