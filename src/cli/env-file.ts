import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from '../errors.js';
import { UsageError } from './command.js';

/** The env file read when no `--env-file` is given, in Lineup's home directory, if it exists. */
export const DEFAULT_ENV_FILE = 'lineup.env';

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/;

/**
 * `NAME=value` lines, as Node's own parser reads them (quotes, `#` comments, `export`). That parser
 * takes anything, so each line is checked first: one assignment per line, or blank, or a comment.
 * A bad line stops with its number only, since it may hold a key.
 */
function parseEnvFile(text: string, file: string): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [index, line] of text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .entries()) {
    if (/^\s*(#|$)/.test(line)) continue;
    const name = ASSIGNMENT.exec(line)?.[1];
    const parsed = name === undefined ? {} : parseEnv(line.replace(/^\s*export\s+/, ''));
    if (name === undefined || Object.keys(parsed).length !== 1 || parsed[name] === undefined) {
      throw new ConfigError(`${file}:${index + 1}: not a NAME=value line`);
    }
    variables[name] = parsed[name];
  }
  return variables;
}

/** What `--env-file` named, or the default file when it exists; undefined: no file. */
function envFileToRead(named: string | undefined, home: string): { path: string; named: boolean } | undefined {
  if (named !== undefined) return { path: resolve(named), named: true };
  const path = join(home, DEFAULT_ENV_FILE);
  return existsSync(path) ? { path, named: false } : undefined;
}

/**
 * The environment that the server and every command read: the process environment over the env
 * file. A variable that is empty in the process counts as unset there (as everywhere in the
 * configuration), so that the file's value stands.
 */
export function environmentWithFile(
  processEnv: NodeJS.ProcessEnv,
  named: string | undefined,
  home: string,
): { env: NodeJS.ProcessEnv; file: string | undefined } {
  const file = envFileToRead(named, home);
  if (!file) return { env: processEnv, file: undefined };
  let text: string;
  try {
    text = readFileSync(file.path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    if (file.named) throw new UsageError(`--env-file: ${named}: ${reason}`);
    throw new ConfigError(`${file.path}: ${reason}`);
  }
  const env: NodeJS.ProcessEnv = parseEnvFile(text, file.path);
  for (const [name, value] of Object.entries(processEnv)) {
    if (value !== undefined && (value !== '' || !(name in env))) env[name] = value;
  }
  return { env, file: file.path };
}

/**
 * Takes `--env-file PATH` (or `--env-file=PATH`) out of a command line, wherever it stands before
 * `--`: a global option that every command accepts. The last one given wins.
 */
export function takeEnvFileOption(argv: string[]): { argv: string[]; envFile: string | undefined } {
  const rest: string[] = [];
  let envFile: string | undefined;
  for (let at = 0; at < argv.length; at++) {
    const arg = argv[at]!;
    if (arg === '--') {
      rest.push(...argv.slice(at));
      break;
    }
    if (arg === '--env-file') {
      envFile = argv[++at];
      if (envFile === undefined || envFile === '') throw new UsageError('--env-file: name a file (--env-file PATH)');
    } else if (arg.startsWith('--env-file=')) {
      envFile = arg.slice('--env-file='.length);
      if (envFile === '') throw new UsageError('--env-file: name a file (--env-file=PATH)');
    } else {
      rest.push(arg);
    }
  }
  return { argv: rest, envFile };
}
