// A throwaway PostgreSQL 15 cluster from Debian's binaries, for the tests (test/helpers/postgres.ts)
// and the bench (bench/postgres.js): initdb into a directory, start on a given loopback port with
// fsync off (it is thrown away), and stop by the postmaster's pid. One module, so that both start
// it the same way.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** Debian's package layout (postgresql-15, which .ci/run installs). */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Whether this machine has the binaries a throwaway cluster needs. */
export function hasPostgresBinaries() {
  return existsSync(join(PG_BIN, 'initdb'));
}

/** As the postgres user when root (initdb refuses root), else as whoever runs this. */
export function asPostgres(command, args) {
  const root = userInfo().uid === 0;
  execFileSync(root ? 'runuser' : command, root ? ['-u', 'postgres', '--', command, ...args] : args, { stdio: 'pipe' });
}

/** initdb and start a cluster in `dir` on `port`: its URL (user postgres, trust, database postgres). */
export function startThrowawayCluster(dir, port) {
  for (const sub of ['data', 'sock', 'log']) mkdirSync(join(dir, sub), { recursive: true });
  if (userInfo().uid === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  else chownSync(dir, userInfo().uid, userInfo().gid);
  asPostgres(join(PG_BIN, 'initdb'), ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  asPostgres(join(PG_BIN, 'pg_ctl'), [
    '-D',
    join(dir, 'data'),
    '-l',
    join(dir, 'log', 'pg.log'),
    '-w',
    'start',
    '-o',
    `-p ${port} -k ${join(dir, 'sock')} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`,
  ]);
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** Stops the cluster in `dir` (fast shutdown: sessions ended, no checkpoint wait) by its postmaster's pid, if it runs. */
export async function stopThrowawayCluster(dir) {
  const pidFile = join(dir, 'data', 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
  } catch {
    return; // already gone
  }
  for (let waited = 0; waited < 10_000 && existsSync(pidFile); waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
}
