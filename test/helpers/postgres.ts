import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, inject, it } from 'vitest';
import { asPostgres, hasPostgresBinaries, PG_BIN, startThrowawayCluster } from '../../scripts/throwaway-postgres.js';
import { loggablePostgresUrl } from '../../src/db/pg/url.js';
import { freePorts } from '../e2e/harness/ports.js';
import { TEST_KEY } from './lineup.js';

/** initdb and start a cluster in `dir` on a free port. */
async function startCluster(dir: string): Promise<string> {
  const [port] = await freePorts(1);
  return startThrowawayCluster(dir, port!);
}

type Server = { url: string } | { reason: string };

/** Answers `SELECT 1` within a few seconds, or says why not (without the URL's password). */
async function reachable(url: string): Promise<Server> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { url };
  } catch (error) {
    return { reason: `PostgreSQL at ${loggablePostgresUrl(url)} is not reachable: ${(error as Error).message}` };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The run's cluster, started by the first file that asks (a mkdir is the lock); the others wait
 * for its URL. Its directory comes from test/postgres-once.ts, which stops it after the run.
 */
async function sharedCluster(): Promise<Server> {
  const dir = inject('postgresDir');
  if (!dir) return { reason: 'no cluster directory (run the tests with vitest.config.ts)' };
  const urlFile = join(dir, 'url');
  const failedFile = join(dir, 'failed');
  try {
    mkdirSync(join(dir, 'starting'));
  } catch {
    for (let waited = 0; waited < 60_000; waited += 100) {
      if (existsSync(urlFile)) return { url: readFileSync(urlFile, 'utf8') };
      if (existsSync(failedFile)) return { reason: readFileSync(failedFile, 'utf8') };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { reason: 'another test file started PostgreSQL and has not finished in 60 s' };
  }
  try {
    const url = await startCluster(dir);
    writeFileSync(urlFile, url);
    return { url };
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    const reason = `could not start PostgreSQL from ${PG_BIN}: ${stderr || (error as Error).message}`;
    writeFileSync(failedFile, reason);
    return { reason };
  }
}

/**
 * The PostgreSQL server the tests use: LINEUP_TEST_PG (a postgres:// URL) when set, else a
 * throwaway cluster from Debian's binaries when they are installed; otherwise why there is none.
 * @internal exported for the test of the CI rule
 */
export async function postgresForTests(env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  if (env.LINEUP_TEST_PG) return reachable(env.LINEUP_TEST_PG);
  if (!hasPostgresBinaries()) {
    return { reason: `LINEUP_TEST_PG is unset and ${PG_BIN} has no initdb (apt-get install postgresql-15)` };
  }
  return sharedCluster();
}

/**
 * What a PostgreSQL suite does without a server: skip, saying why, except in CI (CI=true), where
 * a missing install must not hide behind a green run: there it fails.
 */
export function suiteMode(server: Server, env: NodeJS.ProcessEnv = process.env): 'run' | 'skip' | 'fail' {
  if ('url' in server) return 'run';
  return env.CI === 'true' ? 'fail' : 'skip';
}

const server = await postgresForTests();

/** The server's URL with another database in it. */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A new, empty database on the test server, for one test file (or one test): its URL. */
export async function freshDatabase(): Promise<string> {
  if (!('url' in server)) throw new Error(server.reason);
  const name = `lineup_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return withDatabase(server.url, name);
}

/** `sql` (with `$1, $2, …` bound to `params`) on its own connection to `url`: the rows. */
export async function queryOn<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * `describe` for a suite that needs PostgreSQL: it runs when a server is there, is skipped with
 * the reason in its name when not, and in CI fails with that reason.
 */
export function describePostgres(name: string, body: () => void): void {
  const mode = suiteMode(server);
  if (mode === 'run') describe(name, body);
  else if (mode === 'skip') describe.skip(`${name} (skipped: ${'reason' in server ? server.reason : ''})`, body);
  else
    describe(name, () => {
      it('when CI=true, then PostgreSQL is reachable', () => {
        throw new Error('reason' in server ? server.reason : 'no PostgreSQL');
      });
    });
}

/** A running streaming standby of the test server (LINEUP_DB_REPLICA's role): its URL for a database, and how to stop it. */
export interface Standby {
  url(database: string): string;
  stop(): Promise<void>;
}

/**
 * A hot standby of the test server, from `pg_basebackup -R` into a directory of its own and
 * started on a free port: asynchronous streaming replication, as an operator's region-local
 * replica. Needs the Debian binaries (a LINEUP_TEST_PG server elsewhere cannot be copied this way).
 */
export async function startStandby(): Promise<Standby> {
  if (!('url' in server)) throw new Error(server.reason);
  const primary = new URL(server.url);
  const dir = mkdtempSync(join(tmpdir(), 'lineup-pg-standby-'));
  for (const sub of ['data', 'sock', 'log']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  if (userInfo().uid === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const [port] = await freePorts(1);
  const data = join(dir, 'data');
  asPostgres(join(PG_BIN, 'pg_basebackup'), [
    '-h',
    primary.hostname,
    '-p',
    primary.port,
    '-U',
    primary.username || 'postgres',
    '-D',
    data,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
  ]);
  chmodSync(data, 0o700);
  // A standby refuses to start with fewer connections than its primary allows (200, above).
  asPostgres(join(PG_BIN, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    join(dir, 'log', 'pg.log'),
    '-w',
    'start',
    '-o',
    `-p ${port} -k ${join(dir, 'sock')} -c listen_addresses=127.0.0.1 -c max_connections=200 -c hot_standby=on`,
  ]);
  const standbyUrl = new URL(server.url);
  standbyUrl.port = String(port);
  return {
    url: (database) => withDatabase(standbyUrl.toString(), database),
    async stop() {
      const pidFile = join(data, 'postmaster.pid');
      if (existsSync(pidFile)) {
        process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
        for (let waited = 0; waited < 10_000 && existsSync(pidFile); waited += 50) await new Promise((r) => setTimeout(r, 50));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Where a test node keeps its sealing key: a temp dir per test process, never the checkout's data/lineup.db.key. */
const NODE_KEY_FILE = join(mkdtempSync(join(tmpdir(), 'lineup-pg-node-')), 'credentials.key');

/**
 * The environment of a test node on the PostgreSQL database `url` (in-process or `lineup serve`):
 * port 0 on loopback, the test key, no prune unless asked; `extra` overrides or adds.
 */
export function postgresNodeEnv(url: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    LINEUP_DB: url,
    HOST: '127.0.0.1',
    PORT: '0',
    SECURETOKEN_KEY: TEST_KEY,
    ORIGIN_URL: 'http://origin.test',
    PUBLIC_URL: 'http://lineup.test',
    PRUNE_CRON: 'off',
    CREDENTIALS_KEY_FILE: NODE_KEY_FILE,
    ...extra,
  };
}
