import { realpathSync } from 'node:fs';
import { delimiter, join, sep } from 'node:path';
import { LINEUP_HOME } from '../home.js';

function realpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * How to run Lineup where a message is read: `lineup` when that name on PATH is this installation
 * (the Docker image links it into /usr/local/bin), else `npx lineup`, which a checkout runs from
 * any of its directories after `npm install`. PATH entries inside node_modules are passed over:
 * npm puts its .bin there while it runs a script (`npm start`), and the operator's shell has none.
 */
export function lineupCommand(env: NodeJS.ProcessEnv, home = LINEUP_HOME): string {
  const self = realpath(join(home, 'bin', 'lineup.js'));
  const onPath = (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !`${dir}${sep}`.includes(`${sep}node_modules${sep}`))
    .some((dir) => self !== undefined && realpath(join(dir, 'lineup')) === self);
  return onPath ? 'lineup' : 'npx lineup';
}
