import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { type LineupContext, openContext } from '../context.js';
import { LineupError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import type { Clock } from '../time.js';

/** Where a command reads its environment and writes its output; tests pass their own. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
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

/** Loads the config, opens the database, runs `body`, and closes the database whatever happens. */
export async function withContext<T>(io: CliIo, body: (context: LineupContext) => T | Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  const context = openContext(config, { logger: cliLogger(io), adminCommand: true, ...(io.clock ? { clock: io.clock } : {}) });
  try {
    return await body(context);
  } finally {
    context.close();
  }
}
