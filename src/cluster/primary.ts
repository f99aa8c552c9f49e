import cluster, { type Address, type Worker } from 'node:cluster';
import type { Config } from '../config.js';
import { openContext } from '../context.js';
import { isPostgresUrl } from '../db/pg/url.js';
import { type Housekeeping, type HousekeepingOptions, startHousekeeping } from '../housekeeping.js';
import type { Logger } from '../logger.js';
import { createMetrics } from '../metrics.js';
import { startPostgresHousekeeping } from '../postgres-node.js';
import { serveClusterMetrics } from './cluster-metrics.js';
import { WORKER_READY } from './worker.js';

export interface RunningCluster {
  /** Where the workers listen, e.g. `http://0.0.0.0:8080`. */
  url: string;
  demoUrl?: string;
  /** Settles if the cluster cannot go on: a worker died before all its listeners listened. */
  failed: Promise<Error>;
  /** Stops the prune job, lets every worker finish its requests, closes the database. */
  stop(): Promise<void>;
}

/**
 * WORKERS > 1: the primary process opens the database (making the generated keys before any worker
 * could race to), does the housekeeping once for all (on PostgreSQL, this node's part of the
 * cluster-wide chores), and forks the workers that serve HTTP on one shared port. It resolves once
 * every worker says that all its listeners listen (WORKER_READY), so that the "listening" line it
 * leads to holds for the admin port too. A worker that dies after that is replaced; one that dies
 * before (a port in use, say) stops the cluster, since its replacement would die the same way.
 */
export async function startCluster(config: Config, logger: Logger, { seedDemo }: { seedDemo: boolean }): Promise<RunningCluster> {
  const metrics = createMetrics();
  let housekeeping: { demoUrl?: string; stop(): Promise<void> } | undefined;
  const stopServingMetrics = serveClusterMetrics(metrics.registry);

  let stopping = false;
  let fail!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  const ready = new Set<Worker>();

  /** Resolves with the worker's public address (its first listener) once it is ready. */
  const fork = (): Promise<Address> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      let publicAddress: Address | undefined;
      worker.once('listening', (address: Address) => (publicAddress = address));
      const onMessage = (message: unknown) => {
        if ((message as { type?: unknown } | null)?.type !== WORKER_READY || !publicAddress) return;
        worker.off('message', onMessage);
        ready.add(worker);
        resolve(publicAddress);
      };
      worker.on('message', onMessage);
      worker.once('exit', (code, signal) => {
        if (stopping) return;
        if (!ready.delete(worker)) {
          const error = new Error(`worker ${worker.id} exited (${signal ?? `code ${code}`}) before it was listening`);
          reject(error);
          fail(error);
          return;
        }
        logger.error({ worker: worker.id, code, signal }, 'worker exited; starting another');
        fork().catch(() => {});
      });
    });

  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= stopAll());
  const stopAll = async () => {
    stopping = true;
    await housekeeping?.stop();
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    stopServingMetrics();
  };

  let address: Address;
  try {
    housekeeping = isPostgresUrl(config.dbPath)
      ? await startPostgresHousekeeping(config, { logger, metrics, seedDemo })
      : sqliteHousekeeping(config, { logger, metrics, seedDemo });
    [address] = (await Promise.all(Array.from({ length: config.workers }, fork))) as [Address];
  } catch (error) {
    await stop();
    throw error;
  }
  const { demoUrl } = housekeeping!;

  const host = address.addressType === 6 ? `[${address.address}]` : address.address;
  return { url: `http://${host}:${address.port}`, ...(demoUrl ? { demoUrl } : {}), failed, stop };
}

/** The database opened once by the primary (making the generated keys before any worker could race to), and its chores. */
function sqliteHousekeeping(config: Config, options: HousekeepingOptions): Housekeeping {
  const context = openContext(config, {});
  try {
    const housekeeping = startHousekeeping(context, options);
    return {
      ...(housekeeping.demoUrl ? { demoUrl: housekeeping.demoUrl } : {}),
      stop: async () => {
        await housekeeping.stop();
        context.close();
      },
    };
  } catch (error) {
    context.close();
    throw error;
  }
}
