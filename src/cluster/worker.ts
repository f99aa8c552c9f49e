import cluster from 'node:cluster';
import type { Config } from '../config.js';
import { openContext } from '../context.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createMetrics } from '../metrics.js';
import { startServer } from '../server.js';
import { workerMetrics } from './cluster-metrics.js';

/** How a worker learns the cluster's ETag instance id (see PlaylistService). */
export const INSTANCE_ENV = 'LINEUP_CLUSTER_INSTANCE';

export interface RunningWorker {
  /** Lets requests in flight finish, closes the database, and leaves the cluster. */
  stop(): Promise<void>;
}

/**
 * One of WORKERS processes: HTTP only. The primary does the housekeeping; `/metrics` covers every
 * process; ETags carry the primary's instance id, so that a refresh may land on any worker.
 */
export async function startWorker(config: Config, logger: Logger, env: NodeJS.ProcessEnv): Promise<RunningWorker> {
  const instanceId = env[INSTANCE_ENV];
  if (!instanceId) throw new ConfigError(`${INSTANCE_ENV} is missing: workers are started by lineup serve`);
  const context = openContext(config, { instanceId, logger });
  const metrics = createMetrics();
  const clusterMetrics = workerMetrics(metrics.registry);
  const leave = () => {
    clusterMetrics.close();
    context.close();
    // The channel to the primary would keep this process alive.
    cluster.worker?.disconnect();
  };
  try {
    const http = await startServer(context, {
      logger,
      metrics,
      metricsExposition: { contentType: metrics.registry.contentType, text: clusterMetrics.text },
    });
    let stopping: Promise<void> | undefined;
    return { stop: () => (stopping ??= http.stop().then(leave)) };
  } catch (error) {
    leave();
    throw error;
  }
}
