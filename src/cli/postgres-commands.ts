import { isPostgresUrl } from '../db/pg/url.js';
import { ConfigError } from '../errors.js';

/**
 * The commands that run on PostgreSQL (LINEUP_DB=postgres://…), as typed after `lineup`: the one
 * list to extend as commands are ported. Every other command refuses PostgreSQL with one line.
 */
const POSTGRES_COMMANDS: readonly string[] = ['init', 'serve', 'sql', 'db copy', 'subscriber', 'prune', 'api-token', 'audit', 'sessions'];

/**
 * Refuses `words` (the command and its arguments) when LINEUP_DB names PostgreSQL and the command
 * does not run there yet. The line names neither the URL nor its password.
 */
export function refuseUnlessRunsOnPostgres(words: readonly string[], env: NodeJS.ProcessEnv): void {
  if (!isPostgresUrl(env.LINEUP_DB ?? '')) return;
  const typed = words.join(' ');
  if (POSTGRES_COMMANDS.some((command) => typed === command || typed.startsWith(`${command} `))) return;
  // `db backup` rather than `db` where `db copy` runs; a file or an option is never named.
  const withSubcommand = POSTGRES_COMMANDS.some((command) => command.startsWith(`${words[0]} `));
  const name = words.slice(0, withSubcommand && words[1] && !words[1].startsWith('-') ? 2 : 1).join(' ');
  throw new ConfigError(
    `lineup ${name} does not run on PostgreSQL yet (LINEUP_DB is a postgres:// URL); the commands that do: ${POSTGRES_COMMANDS.map((command) => `lineup ${command}`).join(', ')}`,
  );
}
