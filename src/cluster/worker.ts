import cluster from 'node:cluster';
import type { Config } from '../config.js';
import { openContext } from '../context.js';
import { isPostgresUrl } from '../db/pg/url.js';
import type { Logger } from '../logger.js';
import { createMetrics } from '../metrics.js';
import { startPostgresNode } from '../postgres-node.js';
import { startServer } from '../server.js';
import { workerMetrics } from './cluster-metrics.js';

/**
 * What a worker sends the primary once every listener it opens (the public one, and the admin one
 * with ADMIN_PORT) is listening: the primary reports the cluster listening only after each worker
 * has sent it, since a worker's first 'listening' event comes before its admin listener opens.
 */
export const WORKER_READY = 'lineup:worker-ready';

export interface RunningWorker {
  /** Lets requests in flight finish, closes the database, and leaves the cluster. */
  stop(): Promise<void>;
}

/**
 * One of WORKERS processes: HTTP only. The primary does the housekeeping; `/metrics` covers every
 * process; ETags depend on the settings and the database only, so that a refresh may land on any worker.
 */
export async function startWorker(config: Config, logger: Logger): Promise<RunningWorker> {
  const metrics = createMetrics();
  const clusterMetrics = workerMetrics(metrics.registry);
  const metricsExposition = { contentType: metrics.registry.contentType, text: clusterMetrics.text };
  if (isPostgresUrl(config.dbPath)) {
    // A node of its own but for the chores, which the primary does: its own pool and change feed.
    const leave = () => {
      clusterMetrics.close();
      cluster.worker?.disconnect();
    };
    try {
      const node = await startPostgresNode(config, { logger, worker: { metrics, metricsExposition } });
      let stopping: Promise<void> | undefined;
      return { stop: () => (stopping ??= node.stop().then(leave)) };
    } catch (error) {
      leave();
      throw error;
    }
  }
  const context = openContext(config, { logger });
  const leave = () => {
    clusterMetrics.close();
    context.close();
    // The channel to the primary would keep this process alive.
    cluster.worker?.disconnect();
  };
  try {
    const http = await startServer(context, { logger, metrics, metricsExposition });
    let stopping: Promise<void> | undefined;
    return { stop: () => (stopping ??= http.stop().then(leave)) };
  } catch (error) {
    leave();
    throw error;
  }
}
