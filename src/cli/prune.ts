import { pruneLapsed } from '../subscribers/prune.js';
import { type Command, parseOptions, withContext } from './command.js';

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'delete subscribers lapsed for longer than PRUNE_GRACE_DAYS (what the cron job does)',
  help: `lineup prune [--dry-run]

Deletes, in one transaction, the subscribers whose expires_at is more than PRUNE_GRACE_DAYS in
the past, with their package links. --dry-run lists them and deletes nothing.`,
  run: async (argv, io) => {
    const { values } = parseOptions(argv, { 'dry-run': { type: 'boolean' } }, false);
    return withContext(io, ({ subscribers, clock, config }) => {
      const result = pruneLapsed(subscribers, clock, config.pruneGraceDays, values['dry-run'] === true);
      for (const username of result.usernames) io.stdout(`${result.dryRun ? 'would delete' : 'deleted'} ${username}\n`);
      io.stdout(
        `${result.dryRun ? 'would delete' : 'deleted'} ${result.usernames.length} subscribers (grace ${config.pruneGraceDays} days)\n`,
      );
      return 0;
    });
  },
};
