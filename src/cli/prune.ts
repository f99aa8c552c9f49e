import { pruneLapsed } from '../subscribers/prune.js';
import { type Command, parseOptions, withContext } from './command.js';

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'recycle subscribers lapsed for longer than PRUNE_GRACE_DAYS (what the cron job does)',
  help: `lineup prune [--dry-run] [--confirm-clock]

Moves, in one transaction, the subscribers whose expires_at is more than PRUNE_GRACE_DAYS in the
past to the recycle table, with their package names, and deletes them; their URLs then answer
410 Gone. Each stays restorable with its URL for PRUNE_KEEP_DAYS (lineup subscriber restore
USER); the same run deletes for good those pruned longer ago. Then forgets the retired keys (of
removed, pruned or rotated URLs) older than RETIRED_KEY_DAYS: those URLs are unknown keys again
(404). --dry-run lists and counts them and changes nothing.

A run that would remove anyone is refused, with one line and exit status 1, when the clock is
more than PRUNE_MAX_GAP_DAYS ahead of the last time Lineup saw it (server start, or a prune), or
when it would remove more than PRUNE_MAX_SHARE percent of the subscribers. --confirm-clock runs
it anyway, after a look at the clock and the dry run, and resets that last time to now.`,
  run: async (argv, io) => {
    const { values } = parseOptions(argv, { 'dry-run': { type: 'boolean' }, 'confirm-clock': { type: 'boolean' } }, false);
    return withContext(io, ({ subscribers, settings, clock, config }) => {
      const result = pruneLapsed(subscribers, clock, config.pruneGraceDays, {
        dryRun: values['dry-run'] === true,
        keepDays: config.pruneKeepDays,
        safety: {
          heartbeat: settings,
          maxGapDays: config.pruneMaxGapDays,
          maxSharePercent: config.pruneMaxSharePercent,
          confirmClock: values['confirm-clock'] === true,
        },
      });
      if (result.refusal && !result.dryRun) {
        io.stderr(`lineup: ${result.refusal.message}\n`);
        return 1;
      }
      const [deleted, purged, forgot] = result.dryRun ? ['would delete', 'would purge', 'would forget'] : ['deleted', 'purged', 'forgot'];
      for (const username of result.usernames) io.stdout(`${deleted} ${username}\n`);
      io.stdout(`${deleted} ${count(result.usernames.length, 'subscriber')} (grace ${config.pruneGraceDays} days)\n`);
      io.stdout(`${purged} ${count(result.purged, 'pruned subscriber')} (older than PRUNE_KEEP_DAYS, ${config.pruneKeepDays} days)\n`);
      io.stdout(`${forgot} ${count(result.forgottenKeys, 'retired key')} (older than RETIRED_KEY_DAYS, ${config.retiredKeyDays} days)\n`);
      if (result.refusal) io.stdout(`a real run would be refused: ${result.refusal.message}\n`);
      return 0;
    });
  },
};
