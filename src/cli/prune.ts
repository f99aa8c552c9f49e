import { pruneLapsed } from '../subscribers/prune.js';
import { type Command, parseOptions, withContext } from './command.js';

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'delete subscribers lapsed for longer than PRUNE_GRACE_DAYS (what the cron job does)',
  help: `lineup prune [--dry-run]

Deletes, in one transaction, the subscribers whose expires_at is more than PRUNE_GRACE_DAYS in
the past, with their package links; their URLs then answer 410 Gone. Then forgets the retired
keys (of removed, pruned or rotated URLs) older than RETIRED_KEY_DAYS: those URLs are unknown
keys again (404). --dry-run lists and counts them and deletes nothing.`,
  run: async (argv, io) => {
    const { values } = parseOptions(argv, { 'dry-run': { type: 'boolean' } }, false);
    return withContext(io, ({ subscribers, clock, config }) => {
      const result = pruneLapsed(subscribers, clock, config.pruneGraceDays, values['dry-run'] === true);
      const [deleted, forgot] = result.dryRun ? ['would delete', 'would forget'] : ['deleted', 'forgot'];
      for (const username of result.usernames) io.stdout(`${deleted} ${username}\n`);
      io.stdout(`${deleted} ${count(result.usernames.length, 'subscriber')} (grace ${config.pruneGraceDays} days)\n`);
      io.stdout(`${forgot} ${count(result.forgottenKeys, 'retired key')} (older than RETIRED_KEY_DAYS, ${config.retiredKeyDays} days)\n`);
      return 0;
    });
  },
};
