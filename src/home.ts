import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Lineup's home directory: the one that holds its package.json and bin/ (a checkout, or /app in
 * the Docker image). This file is compiled from src/ to dist/, both one level below it.
 */
export const LINEUP_HOME = resolve(fileURLToPath(new URL('..', import.meta.url)));

/**
 * A configured path, taken from Lineup's home when relative, so that a command run from any
 * directory reaches the same file as the server. `:memory:` and URLs (`postgres://…`) are left as
 * they are.
 */
export function fromHome(path: string, home = LINEUP_HOME): string {
  if (path === ':memory:' || /^[a-z][a-z0-9+.-]*:\/\//i.test(path) || isAbsolute(path)) return path;
  return resolve(home, path);
}
