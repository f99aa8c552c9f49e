import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LineupContext } from './context.js';
import { createHttpApp } from './http/app.js';
import { SERVER_LIMITS } from './http/input-limits.js';
import { hostsToTry, listenOnFirst } from './http/listen.js';
import type { MetricsExposition } from './http/metrics-routes.js';
import type { Logger } from './logger.js';
import type { LineupMetrics } from './metrics.js';
import { sha1LanesAvailable } from './signing/sha1-lanes.js';

export interface RunningServer {
  server: Server;
  /** Where the server listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Stops accepting and lets requests in flight finish; the context stays open. */
  stop(): Promise<void>;
}

export interface ServerOptions {
  logger: Logger;
  metrics: LineupMetrics;
  /** What `/metrics` answers; by default this process's registry (a cluster worker's covers every process). */
  metricsExposition?: MetricsExposition;
}

/** The HTTP listener of one process on HOST:PORT, serving from `context`. */
export async function startServer(context: LineupContext, { logger, metrics, metricsExposition }: ServerOptions): Promise<RunningServer> {
  const { config } = context;
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
    ...(metricsExposition ? { metricsExposition } : {}),
  });

  // Asked now rather than at the first playlist, so that the operator learns it at start.
  if (!sha1LanesAvailable()) {
    logger.warn('WebAssembly SIMD is not available here: signing playlists with node:crypto (the same tokens, more CPU each)');
  }
  const server = createServer(SERVER_LIMITS, app.callback());
  const host = await listenOnFirst(server, config.port, hostsToTry(config.host));
  if (host !== config.host) logger.warn({ host }, `IPv6 is not available here: listening on ${host} (IPv4 only) instead of ${config.host}`);
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }));
  return { server, url: `http://${urlHost}:${address.port}`, stop };
}
