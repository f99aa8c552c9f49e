import { lowerThreadPriority, restingAsLongAsWorked } from '../jobs/prune-pacing.js';
import { pruneLapsed } from '../subscribers/prune.js';
import { type Command, parseOptions, withAdminParts } from './command.js';

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'recycle subscribers lapsed for longer than PRUNE_GRACE_DAYS (what the cron job does)',
  help: `lineup prune [--dry-run] [--confirm-clock] [--verbose]

Moves the subscribers whose expires_at is more than PRUNE_GRACE_DAYS in the past to the recycle
table, with their package names, and deletes them, 5,000 per transaction; their URLs then
answer 410 Gone. Each stays restorable with its URL for PRUNE_KEEP_DAYS (lineup subscriber restore
USER); the same run deletes for good those pruned longer ago. Then forgets the retired keys (of
removed, pruned or rotated URLs) older than RETIRED_KEY_DAYS: those URLs are unknown keys again
(404). Last, it truncates the write-ahead log (the lineup.db-wal file). After each chunk it rests as
long as the chunk took, and it runs at a lower CPU priority (nice +10), leaving a server on the
same machine the cores whenever it has requests to answer. A run stopped half-way
leaves whole chunks moved, and the next run takes the rest. It prints one summary line; --verbose
also prints a line per subscriber. --dry-run counts them (lists them with --verbose) and changes
nothing.

A run that would remove anyone is refused, with one line and exit status 1, when the clock is
more than PRUNE_MAX_GAP_DAYS ahead of the last time Lineup saw it (server start, or a prune), or
when it would remove more than PRUNE_MAX_SHARE percent of the subscribers. --confirm-clock runs
it anyway, after a look at the clock and the dry run, and resets that last time to now.

On PostgreSQL (LINEUP_DB a postgres:// URL), one prune runs at a time across every node on the
database: a run started while another holds the prune lock prints one line saying so and does
nothing (exit status 0). There is no write-ahead log file to truncate: the server keeps its own.`,
  run: async (argv, io) => {
    const { values } = parseOptions(
      argv,
      { 'dry-run': { type: 'boolean' }, 'confirm-clock': { type: 'boolean' }, verbose: { type: 'boolean' } },
      false,
    );
    const verbose = values.verbose === true;
    if (values['dry-run'] !== true) lowerThreadPriority();
    const rest = restingAsLongAsWorked();
    return withAdminParts(io, ({ subscribers, settings, clock, config, pruneOnce }) => {
      const dryRun = values['dry-run'] === true;
      // A dry run changes nothing, so it need not wait for its turn.
      const result = (dryRun ? <T>(run: () => T) => run() : pruneOnce)(() =>
        pruneLapsed(subscribers, clock, config.pruneGraceDays, {
          dryRun,
          keepDays: config.pruneKeepDays,
          safety: {
            heartbeat: settings,
            maxGapDays: config.pruneMaxGapDays,
            maxSharePercent: config.pruneMaxSharePercent,
            confirmClock: values['confirm-clock'] === true,
          },
          onChunk: (usernames) => {
            // As each chunk commits, so that a run stopped half-way has said whom it moved.
            if (verbose) io.stdout(usernames.map((name) => `deleted ${name}\n`).join(''));
            rest();
          },
        }),
      );
      if (!result) {
        io.stdout('another node is pruning this database now (it holds the prune lock): nothing done here\n');
        return 0;
      }
      if (result.refusal && !result.dryRun) {
        io.stderr(`lineup: ${result.refusal.message}\n`);
        return 1;
      }
      if (verbose && result.dryRun) io.stdout(result.usernames.map((name) => `would delete ${name}\n`).join(''));
      const [deleted, purged, forgot] = result.dryRun ? ['would delete', 'would purge', 'would forget'] : ['deleted', 'purged', 'forgot'];
      io.stdout(
        `${deleted} ${count(result.usernames.length, 'subscriber')} (grace ${config.pruneGraceDays} days); ` +
          `${purged} ${count(result.purged, 'pruned subscriber')} (older than PRUNE_KEEP_DAYS, ${config.pruneKeepDays} days); ` +
          `${forgot} ${count(result.forgottenKeys, 'retired key')} (older than RETIRED_KEY_DAYS, ${config.retiredKeyDays} days)\n`,
      );
      if (result.refusal) io.stdout(`a real run would be refused: ${result.refusal.message}\n`);
      return 0;
    });
  },
};
