import cluster from 'node:cluster';
import { isPostgresUrl, loggablePostgresUrl } from '../db/pg/url.js';
import { createLogger, type Logger, loggableUrl, serverLogDestination } from '../logger.js';
import { type Command, configOf, parseOptions } from './command.js';
import { lineupCommand } from './self.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the HTTP server and the prune schedule (creates and migrates the database first)',
  help: `lineup serve [--demo]

Serves on HOST:PORT:
  /playlist/KEY.m3u (or .m3u8)   a subscriber's signed playlist (GET, HEAD, POST; ?output=ts)
  /play/KEY/CHANNEL.m3u8 (.ts)   redirect mode: a 302 to the origin URL signed for the requester,
                                 and the catch-up files under /play/KEY/CHANNEL/
  /epg.xml                       the XMLTV guide in EPG_FILE (or EPG_FILE.gz)
  /healthz                       200 while the database answers, else 503
  /metrics                       Prometheus metrics (a bearer token with METRICS_TOKEN)
  /auth/flussonic, /auth/cesbo,  the auth backend a streaming server asks for each viewer session
  /auth/nginx                    (backend origins): 200/204 allow, 403 deny, 401 without a token

Creates the database if it is missing and migrates it first, and prunes on PRUNE_CRON unless that
is off. Seeds nothing, unless --demo (what npm start runs): then, on the first start of an empty
database, it seeds a demo lineup and prints the demo subscriber's URL. With WORKERS=N (or auto) N
processes share the port. Stops gracefully on SIGTERM or SIGINT. Configuration comes from the
environment and the env file (see the README's Configuration table).

  --demo   seed the demo lineup and subscriber on an empty database`,
  run: async (argv, io) => {
    const { values } = parseOptions(argv, { demo: { type: 'boolean' } }, false);
    const seedDemo = values.demo === true;
    const config = configOf(io);
    const logger = createLogger(config.logLevel, serverLogDestination());
    // Loaded here, not with the command table: the HTTP stack is most of what every other
    // command's start would otherwise load for nothing (0.5 s of CPU, half a `lineup prune`'s start).
    if (cluster.isWorker) {
      const { startWorker, WORKER_READY } = await import('../cluster/worker.js');
      const workerLogger = logger.child({ worker: cluster.worker!.id });
      // Signals first, as below: Ctrl-C may come while the listeners open.
      const worker = startWorker(config, workerLogger);
      const stopped = untilStopped(() => worker.then(({ stop }) => stop()), workerLogger);
      await worker;
      process.send?.({ type: WORKER_READY });
      await stopped;
      return 0;
    }

    const running =
      config.workers > 1
        ? await (await import('../cluster/primary.js')).startCluster(config, logger, { seedDemo })
        : isPostgresUrl(config.dbPath)
          ? await (await import('../postgres-node.js')).startPostgresNode(config, { logger, seedDemo })
          : await (await import('../standalone.js')).startLineup(config, { logger, seedDemo });
    // Signals are taken before the service says it listens: a supervisor (or a test) may send
    // SIGTERM the moment it reads that line, and without a handler the default action kills.
    const stopped = untilStopped(running.stop, logger, 'failed' in running ? running.failed : undefined);
    // The demo URL first: whoever waits for the listening line (a supervisor, a test) has it then.
    if (running.demoUrl) {
      io.stdout(
        `\nDemo subscriber "demo" created. Its playlist URL (shown once; rotate with \`${lineupCommand(io.env, io.home)} subscriber rotate demo\`):\n${running.demoUrl}\n\n`,
      );
    }
    logger.info(
      {
        url: running.url,
        db: isPostgresUrl(config.dbPath) ? loggablePostgresUrl(config.dbPath) : config.dbPath,
        envFile: io.envFile,
        origin: loggableUrl(config.originUrl),
        workers: config.workers,
      },
      'lineup listening',
    );
    const failure = await stopped;
    if (failure) {
      io.stderr(`lineup: ${failure.message}\n`);
      return 1;
    }
    logger.info('stopped');
    return 0;
  },
};

/**
 * Resolves once a signal has stopped the service gracefully, or with the error that stopped it.
 * One shutdown per process, whatever signals follow: Ctrl-C in a terminal sends SIGINT to every
 * process of the group, so a cluster worker gets that and then the primary's SIGTERM. Later
 * signals are held by this handler, so that none of them kills the process mid-stop.
 */
function untilStopped(stop: () => Promise<void>, logger: Logger, failed?: Promise<Error>): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      stop().then(() => resolve(undefined), resolve);
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    failed?.then((error) => stop().finally(() => resolve(error)));
  });
}
