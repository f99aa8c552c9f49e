// The subscriber lookup on a cache miss, on PostgreSQL and on SQLite, with 20,000 subscribers:
// latency (median, p99) of one lookup in flight at a time, and CPU per lookup, Node's and (when
// the server runs on this machine) PostgreSQL's backend's, from /proc/PID/stat.
// `npm run build && LINEUP_BENCH_PG=postgres://user@host:port/postgres node bench/pg-lookup.js [--lookups 20000]`:
// it creates a database of its own on that server and drops it afterwards.
import { hash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openDatabase } from '../dist/db/open.js';
import { openPostgresPool } from '../dist/db/pg/connection.js';
import { migratePostgres } from '../dist/db/pg/migrations.js';
import { PostgresSubscriberAccess } from '../dist/db/pg/subscriber-access-store.js';
import { SubscriberStore } from '../dist/db/subscriber-store.js';
import { systemClock } from '../dist/time.js';
import { benchKey } from './fixture.js';
import { cpuSeconds } from './http.js';
import { round } from './stats.js';

const SUBSCRIBERS = 20_000;
const WARM_UP = 1000;
const { values: options } = parseArgs({ options: { lookups: { type: 'string', default: '20000' } } });
const LOOKUPS = Number(options.lookups);
const RETENTION = { days: 30, clock: systemClock };
const server = process.env.LINEUP_BENCH_PG;
if (!server) {
  console.error('LINEUP_BENCH_PG: a postgres:// URL of a server where this may create a database');
  process.exit(2);
}

/** Each subscriber with a key and one or two of three packages, written by one statement per backend. */
const SUBSCRIBERS_SQL = (series, keyHash) => `
  INSERT INTO packages (id, name) VALUES (1, 'basic'), (2, 'sports'), (3, 'premium');
  INSERT INTO subscribers (id, username, key_hash, expires_at)
    SELECT i + 1, 'user' || i, ${keyHash}, '2999-01-01 00:00:00' FROM ${series};
  INSERT INTO subscriber_packages (subscriber_id, package_id) SELECT id, 1 FROM subscribers;
  INSERT INTO subscriber_packages (subscriber_id, package_id) SELECT id, 2 + id % 2 FROM subscribers WHERE id % 3 = 0;`;

/** Lookups of random subscribers, one after the other: latencies in µs, and CPU per lookup. */
async function run(lookup, backendPid) {
  const keys = Array.from({ length: WARM_UP + LOOKUPS }, () => hash('sha256', benchKey(Math.floor(Math.random() * SUBSCRIBERS))));
  for (let i = 0; i < WARM_UP; i++) if (!(await lookup(keys[i]))) throw new Error('a lookup found no one');
  const samples = new Float64Array(LOOKUPS);
  const serverBefore = backendPid && cpuSeconds(backendPid);
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < LOOKUPS; i++) {
    const at = performance.now();
    await lookup(keys[WARM_UP + i]);
    samples[i] = (performance.now() - at) * 1000;
  }
  const seconds = (performance.now() - started) / 1000;
  const node = process.cpuUsage(nodeBefore);
  const serverAfter = backendPid && cpuSeconds(backendPid);
  samples.sort();
  return {
    medianUs: round(samples[Math.floor(LOOKUPS / 2)], 1),
    p99Us: round(samples[Math.floor(LOOKUPS * 0.99)], 1),
    maxUs: round(samples[LOOKUPS - 1], 1),
    lookupsPerSecond: Math.round(LOOKUPS / seconds),
    nodeCpuUs: round((node.user + node.system) / LOOKUPS, 1),
    ...(serverAfter
      ? { serverCpuUs: round(((serverAfter.user + serverAfter.system - serverBefore.user - serverBefore.system) * 1e6) / LOOKUPS, 1) }
      : {}),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'lineup-pg-lookup-'));
const database = `lineup_bench_${randomBytes(6).toString('hex')}`;
const admin = new pg.Client({ connectionString: server });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(server);
url.pathname = `/${database}`;
// One connection: every lookup goes to the same backend, whose CPU is then read from /proc.
const pool = openPostgresPool(url.toString(), { max: 1 });
try {
  const db = openDatabase(join(dir, 'lineup.db'));
  db.function('bench_key_hash', (i) => hash('sha256', benchKey(i)));
  db.exec(
    SUBSCRIBERS_SQL(
      `(WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${SUBSCRIBERS}) SELECT i FROM n)`,
      'bench_key_hash(i)',
    ),
  );
  const sqlite = new SubscriberStore(db, RETENTION);

  await migratePostgres(pool);
  // benchKey(i) in SQL: the keys are made the same way on both sides.
  const keyHashes = Array.from({ length: SUBSCRIBERS }, (_, i) => hash('sha256', benchKey(i)));
  const series = 'unnest($1::text[]) WITH ORDINALITY AS k(hash, n), LATERAL (SELECT n - 1 AS i) AS x';
  const client = await pool.connect();
  let backendPid;
  try {
    for (const statement of SUBSCRIBERS_SQL(series, 'k.hash')
      .split(';')
      .filter((text) => text.trim())) {
      await client.query(statement, statement.includes('$1') ? [keyHashes] : []);
    }
    await client.query('ANALYZE');
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
    backendPid = existsSync(`/proc/${rows[0].pid}/stat`) ? rows[0].pid : undefined;
  } finally {
    client.release();
  }
  const postgres = new PostgresSubscriberAccess(pool, RETENTION);

  const results = {
    sqlite: await run((key) => sqlite.findAccess(key)),
    postgres: await run((key) => postgres.findAccess(key), backendPid),
  };
  db.close();
  console.log(
    `${SUBSCRIBERS} subscribers, ${LOOKUPS} lookups one at a time; load average ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  console.table(results);
  console.log(JSON.stringify({ plan: 'pg-lookup', subscribers: SUBSCRIBERS, lookups: LOOKUPS, ...results }));
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
