import type { Server } from 'node:http';
import type { Config } from './config.js';
import { type LineupContext, openContext } from './context.js';
import { type Housekeeping, startHousekeeping } from './housekeeping.js';
import type { Logger } from './logger.js';
import { createMetrics, type LineupMetrics } from './metrics.js';
import { startServer } from './server.js';
import type { AccessLookup } from './subscribers/access.js';
import type { Clock } from './time.js';

/** Lineup in one process: housekeeping and HTTP over one database connection. */
export interface RunningLineup {
  context: LineupContext;
  server: Server;
  metrics: LineupMetrics;
  /** Where the server listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Where the admin listener (the admin API, /metrics) listens, when ADMIN_PORT is set. */
  adminUrl?: string;
  /** The demo subscriber's URL, only on the first start of an empty database. */
  demoUrl?: string;
  /** Stops the prune schedule and accepting, lets requests in flight finish, closes the database. */
  stop(): Promise<void>;
}

export interface StandaloneOptions {
  logger: Logger;
  clock?: Clock;
  /** Seeds the demo lineup on an empty database (`lineup serve --demo`); off unless asked. */
  seedDemo?: boolean;
  /** See ContextOptions.subscriberLookups. */
  subscriberLookups?: AccessLookup;
}

export async function startLineup(
  config: Config,
  { logger, clock, seedDemo = false, subscriberLookups }: StandaloneOptions,
): Promise<RunningLineup> {
  const context = openContext(config, { logger, ...(clock ? { clock } : {}), ...(subscriberLookups ? { subscriberLookups } : {}) });
  const metrics = createMetrics();
  let housekeeping: Housekeeping | undefined;
  try {
    housekeeping = startHousekeeping(context, { logger, metrics, seedDemo });
    const http = await startServer(context, { logger, metrics });
    const { demoUrl } = housekeeping;
    const stop = once(async () => {
      await housekeeping!.stop();
      await http.stop();
      context.close();
    });
    return {
      context,
      server: http.server,
      metrics,
      url: http.url,
      ...(http.adminUrl ? { adminUrl: http.adminUrl } : {}),
      ...(demoUrl ? { demoUrl } : {}),
      stop,
    };
  } catch (error) {
    await housekeeping?.stop();
    context.close();
    throw error;
  }
}

/** The first call's promise, for every call: stopping twice waits for the one stop. */
function once(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= stop());
}
