// `npm run bench:postgres` (and the last part of `npm run bench`): the same data served by a node
// on SQLite and a node on PostgreSQL (`lineup serve` with LINEUP_DB=postgres://…), one after the
// other in each round, on a throwaway PostgreSQL 15 cluster of its own (scripts/throwaway-postgres.js).
// Skips in one line where the binaries are not installed.
//
// 1,000 channels and 30,000 subscribers, made once in SQLite and copied with `lineup db copy`:
// - warm: 10 subscribers refetching within their bucket (TOKEN_BUCKET=300), 200s from the
//   response cache; and 304s of one subscriber sending its ETag;
// - cold: TOKEN_BUCKET=0 and each request another subscriber, in turn over all 30,000: more than
//   the 20,000 a node remembers, so every request is a subscriber lookup (on PostgreSQL a round
//   trip, counted by pg_stat_database.xact_commit) and a fresh rendering.
// - renewals: the warm plan while another subscriber is renewed every 10 ms (an UPDATE of
//   expires_at, as billing does all day), on the served database: a renewal forgets one subscriber
//   and recompiles nothing, so the warm rate should barely move (reported beside warm, per backend).
// Requests per second of PostgreSQL ÷ SQLite in the same round (targets: warm ≥ 0.9, cold ≥ 0.7;
// beside it, how far one backend's two runs in a round fall apart, the noise to read it against),
// the node's CPU per response (/proc/PID/stat), and on PostgreSQL the cluster's too (its
// processes', exited ones included). Then bench/pg-lookup.js on the same cluster: the p99 of one
// subscriber lookup.
//
// PG_BENCH_SECONDS=3 PG_BENCH_ROUNDS=9 narrow or widen a run.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { hasPostgresBinaries, PG_BIN, startThrowawayCluster, stopThrowawayCluster } from '../scripts/throwaway-postgres.js';
import { cpuRun, medianRound } from './cpu-run.js';
import { benchKey, createFixture, SECURETOKEN_KEY } from './fixture.js';
import { freePort, startLineupServer } from './http.js';
import { median, round } from './stats.js';

const CHANNELS = 1000;
/** More than the 20,000 subscribers a node remembers: a rotation over all of them never finds one remembered. */
const SUBSCRIBERS = 30_000;
/** Warm: a few subscribers, all of whose playlists the response cache holds. */
const WARM_SUBSCRIBERS = 10;
const SECONDS = Number(process.env.PG_BENCH_SECONDS ?? 3);
/**
 * Nine, not five: the rounds of one plan spread by ±15% on a quiet 2-core machine while the two
 * nodes' CPU per warm response is the same within 3%, and the median of five fell under 0.9 in
 * one run of two (docs/performance.md, 2026-12-03 night).
 */
const ROUNDS = Number(process.env.PG_BENCH_ROUNDS ?? 9);
const CONNECTIONS = 10;
const TARGETS = { warm: 0.9, warm304: 0.9, cold: 0.7 };
/** How often the renewals plan renews a subscriber, as billing systems do all day. */
const RENEW_EVERY_MS = 10;
const root = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

if (!hasPostgresBinaries()) {
  console.log(`postgres plan: skipped (no PostgreSQL 15 in ${PG_BIN}; apt-get install postgresql-15)`);
  process.exit(0);
}

/** CPU seconds of a cluster so far: the postmaster's, its children's alive, and those it has reaped. */
function clusterCpuSeconds(postmasterPid) {
  const fieldsOf = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const own = fieldsOf(postmasterPid);
  // utime, stime, cutime, cstime: fields 14–17 of stat, 11–14 after the command.
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = fieldsOf(entry);
      if (Number(fields[1]) === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited meanwhile: its time is in the postmaster's cutime/cstime
    }
  }
  return ticks / 100;
}

const clusterDir = mkdtempSync(join(tmpdir(), 'lineup-bench-pg-'));
const fixture = createFixture({ channels: CHANNELS, subscribers: SUBSCRIBERS });
const servers = [];
let admin;
let sqliteWriter;
let postgresWriter;
try {
  const clusterUrl = startThrowawayCluster(clusterDir, await freePort());
  const postmasterPid = Number(readFileSync(join(clusterDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  admin = new pg.Client({ connectionString: clusterUrl });
  await admin.connect();
  // The warm and the cold node each on a database of its own, so that each one's transactions count apart.
  const databases = {};
  for (const plan of ['warm', 'cold']) {
    const name = `lineup_bench_${plan}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(clusterUrl);
    url.pathname = `/${name}`;
    databases[plan] = { name, url: url.toString() };
    await exec(process.execPath, ['bin/lineup.js', 'db', 'copy', '--from', fixture.dbPath, '--to', url.toString()], { cwd: root });
    // Statistics for the copied rows, as autovacuum would gather soon after a copy.
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await client.query('VACUUM ANALYZE');
    await client.end();
  }
  // The copies' pages written out now, not by a checkpoint that falls inside a measured round.
  await admin.query('CHECKPOINT');
  /**
   * Transactions committed in a database so far. A backend reports its counts at most once a
   * second while busy and within 10 s of going idle (PostgreSQL 15), so only totals read 11 s
   * after the load stopped are whole: the count of lookups, one transaction each.
   */
  const settledTransactions = async () => {
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const { rows } = await admin.query('SELECT datname, xact_commit FROM pg_stat_database');
    return Object.fromEntries(
      Object.entries(databases).map(([plan, { name }]) => [plan, Number(rows.find((row) => row.datname === name).xact_commit)]),
    );
  };

  // The sealing key in the bench's own directory, not the checkout's data/lineup.db.key.
  const baseEnv = {
    SECURETOKEN_KEY,
    ORIGIN_URL: 'http://flussonic.example.net',
    LOG_LEVEL: 'warn',
    CREDENTIALS_KEY_FILE: join(clusterDir, 'credentials.key'),
  };
  const started = async (env) => {
    const server = await startLineupServer({ ...baseEnv, ...env });
    servers.push(server);
    return server;
  };
  const backends = {
    sqlite: {
      warm: await started({ LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '300' }),
      cold: await started({ LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '0' }),
    },
    postgres: {
      warm: await started({ LINEUP_DB: databases.warm.url, TOKEN_BUCKET: '300' }),
      cold: await started({ LINEUP_DB: databases.cold.url, TOKEN_BUCKET: '0' }),
    },
  };

  const onePath = `/playlist/${benchKey(0)}.m3u`;
  let warmNext = 0;
  const warmPath = () => `/playlist/${benchKey(warmNext++ % WARM_SUBSCRIBERS)}.m3u`;
  // Each cold server's own turn through the fleet, running on across runs.
  const coldNext = { sqlite: 0, postgres: 0 };
  const coldPath = (backend) => () => `/playlist/${benchKey(coldNext[backend]++ % SUBSCRIBERS)}.m3u`;

  // Renewals of subscribers outside the warm ones, through each backend's own client, counted.
  sqliteWriter = new Database(fixture.dbPath);
  sqliteWriter.pragma('busy_timeout = 5000');
  const renewSqlite = sqliteWriter.prepare("UPDATE subscribers SET expires_at = datetime(expires_at, '+1 day') WHERE username = ?");
  postgresWriter = new pg.Client({ connectionString: databases.warm.url });
  await postgresWriter.connect();
  const renewed = { sqlite: 0, postgres: 0 };
  let renewNext = 0;
  let postgresBusy = false;
  const renewing = (backend) => {
    const timer = setInterval(() => {
      const username = `user${WARM_SUBSCRIBERS + (renewNext++ % (SUBSCRIBERS - WARM_SUBSCRIBERS))}`;
      if (backend === 'sqlite') {
        renewSqlite.run(username);
        renewed.sqlite++;
      } else if (!postgresBusy) {
        // One at a time on the one connection: a renewal still in flight skips this tick.
        postgresBusy = true;
        postgresWriter
          .query("UPDATE subscribers SET expires_at = datetime(expires_at, '+1 day') WHERE username = $1", [username])
          .then(() => renewed.postgres++)
          .finally(() => {
            postgresBusy = false;
          });
      }
    }, RENEW_EVERY_MS);
    return () => clearInterval(timer);
  };

  /** One run of `plan` on `backend`, with the cluster's CPU per response on PostgreSQL. */
  async function measure(plan, backend, seconds = SECONDS) {
    const server = backends[backend][plan === 'cold' ? 'cold' : 'warm'];
    const pathOf = plan === 'cold' ? coldPath(backend) : plan === 'warm' || plan === 'renewals' ? warmPath : () => onePath;
    for (let attempt = 0; ; attempt++) {
      let headers = {};
      if (plan === 'warm304') {
        // The identity representation's ETag: the load generator asks for no gzip.
        const current = await fetch(server.url + onePath, { headers: { 'Accept-Encoding': 'identity' } });
        await current.arrayBuffer();
        const etag = current.headers.get('etag');
        if (!etag) throw new Error(`bench: the ${backend} node sent no ETag`);
        headers = { 'If-None-Match': etag };
      }
      const cpuBefore = clusterCpuSeconds(postmasterPid);
      const stopRenewing = plan === 'renewals' ? renewing(backend) : () => {};
      const result = await cpuRun(server, pathOf, { seconds, connections: CONNECTIONS, headers }).finally(stopRenewing);
      const cpuAfter = clusterCpuSeconds(postmasterPid);
      if (plan === 'warm304' && result.non2xx !== result.responses) {
        // A bucket boundary fell inside the run and turned the rest into 200s: the run again, once.
        if (attempt === 0) continue;
        throw new Error(`bench: the ${backend} 304 plan got ${result.responses - result.non2xx} full answers twice`);
      }
      if (plan !== 'warm304' && result.non2xx) throw new Error(`bench: ${backend} ${plan}: ${result.non2xx} answers not 2xx`);
      if (backend === 'postgres') served[plan === 'cold' ? 'cold' : 'warm'] += result.responses;
      return {
        ...result,
        ...(backend === 'postgres' ? { pgCpuUs: round(((cpuAfter - cpuBefore) * 1e6) / result.responses, 1) } : {}),
      };
    }
  }

  const plans = ['warm', 'warm304', 'cold', 'renewals'];
  /** Responses of each PostgreSQL node, against its database's transactions. */
  const served = { warm: 0, cold: 0 };
  const transactionsBefore = await settledTransactions();
  // A fresh process compiles for its first seconds; the cold servers' first pass also fills what can be filled.
  for (const plan of plans) for (const backend of ['sqlite', 'postgres']) await measure(plan, backend, 2);
  const results = Object.fromEntries(plans.map((plan) => [plan, { sqlite: [], postgres: [], ratios: [], pairs: [], loads: [] }]));
  for (let pass = 0; pass < ROUNDS; pass++) {
    for (const plan of plans) {
      // Each round one backend runs between two runs of the other, as bench/run.js holds a plan
      // between two runs of its ceiling, and which one is in the middle alternates: a drift of the
      // machine's speed, or whatever favours a run by its place, hits both alike.
      const order = pass % 2 ? ['postgres', 'sqlite', 'postgres'] : ['sqlite', 'postgres', 'sqlite'];
      const runs = { sqlite: [], postgres: [] };
      for (const backend of order) runs[backend].push(await measure(plan, backend));
      const rate = (backend) => runs[backend].reduce((sum, run) => sum + run.reqPerSec, 0) / runs[backend].length;
      results[plan].sqlite.push(...runs.sqlite);
      results[plan].postgres.push(...runs.postgres);
      results[plan].ratios.push(rate('postgres') / rate('sqlite'));
      // The backend that ran twice, against itself (the difference over the pair's mean, as the ratio
      // is to the mean): how far apart runs of the same code fall on this machine.
      const [first, second] = runs[order[0]];
      results[plan].pairs.push(Math.abs(second.reqPerSec - first.reqPerSec) / ((first.reqPerSec + second.reqPerSec) / 2));
      results[plan].loads.push(loadavg());
      console.error(
        `postgres plan round ${pass + 1} ${plan}: ${order
          .map((backend, i) => {
            const run = runs[backend][i === 2 ? 1 : 0];
            return `${backend} ${run.reqPerSec} req/s ${run.cpuUs} µs${backend === 'postgres' ? ` + cluster ${run.pgCpuUs} µs` : ''}`;
          })
          .join(', ')}; PostgreSQL ${round(results[plan].ratios.at(-1), 3)}× SQLite; load ${loadavg()}`,
      );
    }
  }
  const transactionsAfter = await settledTransactions();
  // The node's health ping is a transaction a second too; the rest are lookups.
  const transactions = Object.fromEntries(
    Object.keys(served).map((node) => {
      // The renewals plan's UPDATEs commit in the warm node's database too: not the node's.
      const count = transactionsAfter[node] - transactionsBefore[node] - (node === 'warm' ? renewed.postgres : 0);
      return [node, { transactions: count, responses: served[node], perResponse: round(count / served[node], 3) }];
    }),
  );
  // Without a lookup per cold request, the cold figures would be the remembered path's.
  if (transactions.cold.perResponse < 0.95)
    throw new Error(`bench: the cold PostgreSQL node looked up ${transactions.cold.perResponse} times per response, not once`);
  // bench/pg-lookup.js on the same cluster: one lookup at a time, its latency and CPU.
  const { stdout } = await exec(process.execPath, ['bench/pg-lookup.js', '--lookups', '10000'], {
    cwd: root,
    env: { ...process.env, LINEUP_BENCH_PG: clusterUrl },
  });
  const lookup = JSON.parse(stdout.trim().split('\n').at(-1));
  const lookupLoad = loadavg();

  const report = { channels: CHANNELS, subscribers: SUBSCRIBERS, seconds: SECONDS, rounds: ROUNDS, plans: {}, transactions, lookup };
  const rows = [];
  for (const plan of plans) {
    const { sqlite, postgres, ratios, pairs, loads } = results[plan];
    const ratio = round(
      median(ratios, (one) => one),
      3,
    );
    const target = TARGETS[plan];
    const holds = target === undefined || ratio >= target;
    const typical = { sqlite: medianRound(sqlite), postgres: medianRound(postgres) };
    // What the CPU per response alone allows, steadier than rates on a loaded machine: the node's
    // own, and the node's with the cluster's (the two share this machine's cores).
    const cpuRatio = round(typical.sqlite.cpuUs / typical.postgres.cpuUs, 3);
    const cpuRatioWithCluster = round(typical.sqlite.cpuUs / (typical.postgres.cpuUs + typical.postgres.pgCpuUs), 3);
    report.plans[plan] = {
      ...typical,
      cpuRatio,
      cpuRatioWithCluster,
      ratio,
      ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)],
      pairSpread: round(
        median(pairs, (one) => one),
        3,
      ),
      ...(target === undefined ? {} : { target, holds }),
      loadavg: loads,
    };
    for (const backend of ['sqlite', 'postgres']) {
      const one = typical[backend];
      const rates = results[plan][backend].map((run) => run.reqPerSec);
      rows.push([
        `postgres plan ${plan} ${backend}`,
        `${median(rates, (rate) => rate)} req/s (rounds ${Math.min(...rates)}–${Math.max(...rates)}), p99 ${one.p99Ms} ms`,
        `node ${one.cpuUs} µs CPU/resp (user ${one.userUs}, sys ${one.systemUs})${
          backend === 'postgres' ? `, cluster ${one.pgCpuUs} µs/resp` : ''
        }`,
      ]);
    }
    rows.push([
      `postgres plan ${plan} ratio`,
      `PostgreSQL ${ratio}× SQLite req/s (rounds ${report.plans[plan].ratioRange.join('–')}; one backend's two runs in a round ${round(report.plans[plan].pairSpread * 100, 1)}% apart)`,
      `${target === undefined ? 'no target' : `target ≥ ${target}×: ${holds ? 'holds' : 'MISSED'}`}; load ${loads.join(' | ')}`,
    ]);
    rows.push([
      `postgres plan ${plan} CPU`,
      `SQLite's CPU/resp ÷ PostgreSQL node's ${cpuRatio}×`,
      `÷ (node's + cluster's) ${cpuRatioWithCluster}×`,
    ]);
  }
  for (const backend of ['sqlite', 'postgres']) {
    const rate = (plan) =>
      median(
        results[plan][backend].map((run) => run.reqPerSec),
        (one) => one,
      );
    const kept = round(rate('renewals') / rate('warm'), 3);
    report.plans.renewals[`${backend}KeptOfWarm`] = kept;
    rows.push([
      `postgres plan renewals ${backend}`,
      `warm rate with a renewal every ${RENEW_EVERY_MS} ms: ${kept}× the warm plan's`,
      `${renewed[backend]} renewals in all`,
    ]);
  }
  report.renewed = renewed;
  for (const [node, count] of Object.entries(transactions)) {
    rows.push([
      `postgres plan ${node} node transactions`,
      `${count.transactions} for ${count.responses} responses`,
      `${count.perResponse} per response (a lookup each, and a health ping a second)`,
    ]);
  }
  rows.push([
    'postgres plan lookup (pg-lookup.js)',
    `PostgreSQL median ${lookup.postgres.medianUs} µs, p99 ${lookup.postgres.p99Us} µs`,
    `SQLite median ${lookup.sqlite.medianUs} µs, p99 ${lookup.sqlite.p99Us} µs; load ${lookupLoad}`,
  ]);
  report.lookupLoadavg = lookupLoad;
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
  console.log(JSON.stringify({ node: process.version, postgres: report }));
} finally {
  for (const server of servers) await server.stop();
  sqliteWriter?.close();
  await postgresWriter?.end().catch(() => {});
  await admin?.end().catch(() => {});
  await stopThrowawayCluster(clusterDir);
  rmSync(clusterDir, { recursive: true, force: true });
  fixture.cleanup();
}
