import { loadConfig } from '../config.js';
import { GENERATED_KEY_SETTING } from '../context.js';
import { createLogger } from '../logger.js';
import { startLineup } from '../main.js';
import { type Command, parseOptions } from './command.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the HTTP server and the prune schedule (migrates the database first)',
  help: `lineup serve

Serves /playlist/KEY.m3u and /healthz on HOST:PORT and prunes on PRUNE_CRON. On the first start
of an empty database it seeds a demo lineup and prints the demo subscriber's URL. Stops
gracefully on SIGTERM or SIGINT. Configuration comes from the environment (see README).`,
  run: async (argv, io) => {
    parseOptions(argv, {}, false);
    const config = loadConfig(io.env);
    const logger = createLogger(config.logLevel);
    const lineup = await startLineup(config, { logger });
    logger.info({ url: lineup.url, db: config.dbPath, origin: config.originUrl }, 'lineup listening');
    if (!config.securetokenKey) {
      logger.warn(
        `SECURETOKEN_KEY is not set: signing with the generated key in the settings table (name ${GENERATED_KEY_SETTING}); the streaming server must use the same key`,
      );
    }
    if (lineup.demoUrl) {
      io.stdout(`\nDemo subscriber "demo" created. Its playlist URL (shown once; rotate with \`npx lineup subscriber rotate demo\`):\n${lineup.demoUrl}\n\n`);
    }
    await new Promise<void>((resolve) => {
      const shutdown = (signal: NodeJS.Signals) => {
        logger.info({ signal }, 'shutting down');
        lineup.stop().then(resolve, resolve);
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    });
    logger.info('stopped');
    return 0;
  },
};
