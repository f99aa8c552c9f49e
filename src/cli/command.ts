import { existsSync, readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type AdminParts, sqliteAdminParts } from '../admin-parts.js';
import { type Config, loadConfig } from '../config.js';
import { type LineupContext, openContext } from '../context.js';
import { setAuditActor } from '../db/audit-triggers.js';
import { isPostgresUrl } from '../db/pg/url.js';
import { ConfigError, LineupError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import type { PlaylistService } from '../playlist/playlist-service.js';
import { checkSignsLikeServer, SIGNING_SETTING } from '../signing-record.js';
import { type Clock, systemClock } from '../time.js';
import { lineupCommand } from './self.js';

/** Where a command reads its environment and writes its output; tests pass their own. */
export interface CliIo {
  /** The process environment, over the env file's once `runCli` has read it. */
  env: NodeJS.ProcessEnv;
  /** Lineup's home directory (relative paths, the default env file); tests pass a temp one. */
  home?: string;
  /** The env file `runCli` read, if any. */
  envFile?: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** For tests that stand on a boundary; commands use the wall clock otherwise. */
  clock?: Clock;
  /** Whether stdout is a terminal (progress bars). */
  isTTY?: boolean;
}

export interface Command {
  name: string;
  summary: string;
  /** Shown by `--help`; its first line is the synopsis. */
  help: string;
  run(argv: string[], io: CliIo): Promise<number> | number;
}

/** A bad argument; the message names it. Exit code 2. */
export class UsageError extends LineupError {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into one-line usage errors. */
export function parseOptions<T extends Options>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!.replace(/\. To specify.*$/, ''));
  }
}

/** A file named on the command line, as UTF-8; a missing or unreadable one is a usage error naming it. */
export function readInputFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** A whole number option, checked. */
export function wholeNumber(value: string | undefined, option: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${option}: "${value}" is not a whole number ≥ ${min}`);
  return Number(value);
}

/** CLI logs are warnings for a person, on stderr, so that stdout stays clean for scripts. */
function cliLogger(io: CliIo): Logger {
  return createLogger('warn', {
    write: (line: string) => io.stderr(`lineup: warning: ${(JSON.parse(line) as { msg: string }).msg}\n`),
  });
}

/** The configuration a command runs with: its environment (env file included), paths from Lineup's home. */
export function configOf(io: CliIo): Config {
  return io.home === undefined ? loadConfig(io.env) : loadConfig(io.env, io.home);
}

export interface WithContextOptions {
  /** The command prints signed URLs: it refuses to sign unlike the server (see signing-record.ts). */
  signs?: boolean;
}

/**
 * Loads the config, opens the existing database, runs `body`, and closes the database whatever
 * happens. A missing database is an error: an admin command never creates one.
 */
export async function withContext<T>(
  io: CliIo,
  body: (context: LineupContext) => T | Promise<T>,
  { signs = false }: WithContextOptions = {},
): Promise<T> {
  const config = configOf(io);
  if (!existsSync(config.dbPath)) throw new ConfigError(missingDatabase(config.dbPath, io));
  const context = openContext(config, { adminCommand: true, ...(io.clock ? { clock: io.clock } : {}) });
  // The audit trail names the CLI; `lineup sql` names itself for the scripts it applies.
  setAuditActor(context.db, 'cli');
  try {
    if (signs) {
      const warning = checkSignsLikeServer(context, context.settings.get(SIGNING_SETTING));
      if (warning) cliLogger(io).warn(warning);
    }
    return await body(context);
  } finally {
    context.close();
  }
}

/**
 * withContext for the commands that also run on PostgreSQL (`lineup subscriber`, `lineup prune`):
 * `body` gets the parts they use, from SQLite's context or over a PostgreSQL connection (loaded
 * only then, so that an SQLite operator's processes never load the driver), and they are closed
 * whatever happens.
 */
export async function withAdminParts<T>(io: CliIo, body: (parts: AdminParts) => T | Promise<T>): Promise<T> {
  const config = configOf(io);
  if (!isPostgresUrl(config.dbPath)) return withContext(io, (context) => body(sqliteAdminParts(context)));
  const { openPostgresAdminParts } = await import('../postgres-admin-parts.js');
  const parts = openPostgresAdminParts(config, io.clock ?? systemClock);
  try {
    return await body(parts);
  } catch (error) {
    // lock_timeout: what SQLite says as "database is locked", said so that the operator knows what to look for.
    if ((error as { code?: unknown }).code === '55P03') {
      throw new LineupError(
        'another session has held what this command writes for over 5 s (a transaction left open?): try again once it ends',
      );
    }
    throw error;
  } finally {
    parts.close();
  }
}

/**
 * `body` with the playlist service as the server has it, on either backend (on PostgreSQL, a
 * node's: postgres-render.ts), after the check that this command signs like the server.
 */
export async function withPlaylists<T>(io: CliIo, body: (playlists: Pick<PlaylistService, 'textFor'>) => Promise<T>): Promise<T> {
  const config = configOf(io);
  if (!isPostgresUrl(config.dbPath)) return withContext(io, (context) => body(context.playlists), { signs: true });
  const { openPostgresPlaylists } = await import('../postgres-render.js');
  const parts = await openPostgresPlaylists(config, io.clock ?? systemClock);
  try {
    const warning = checkSignsLikeServer(parts.signer, parts.signingRecord);
    if (warning) cliLogger(io).warn(warning);
    return await body(parts.playlists);
  } finally {
    await parts.close();
  }
}

/** One line: the resolved path, the variable, and the two ways to make a database. */
function missingDatabase(path: string, io: CliIo): string {
  const self = lineupCommand(io.env, io.home);
  return `LINEUP_DB: cannot open ${path}: no database there. Point LINEUP_DB at the server's database, or create one with \`${self} init\` (or by starting the server)`;
}
