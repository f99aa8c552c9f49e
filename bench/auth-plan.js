// The auth backend's plan: nginx auth_request on a warm decision against a bare koa route (HTTP,
// 50 connections), and one decision in-process. Part of `npm run bench`; `npm run bench:auth` runs
// it alone.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../dist/config.js';
import { openContext } from '../dist/context.js';
import { openDatabase } from '../dist/db/open.js';
import { benchKey, createFixture, SECURETOKEN_KEY } from './fixture.js';
import { loadTest, startLineupServer } from './http.js';
import { measure, median, round } from './stats.js';

const RUN_SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_AUTH_ROUNDS ?? 5);
/** nginx in front of a busy origin keeps many auth subrequests in flight. */
const CONNECTIONS = 50;
const IP = '127.0.0.1';
const env = { SECURETOKEN_KEY, ORIGIN_URL: 'http://flussonic.example.net', LOG_LEVEL: 'info' };

/** The fixture's channels moved onto a `backend` origin, every subscriber allowed 10 connections. */
function backendFixture() {
  const fixture = createFixture({ channels: 100, subscribers: 10 });
  const db = openDatabase(fixture.dbPath);
  db.exec(`INSERT INTO origins (name, base_url, scheme, secret) VALUES ('cdn', 'http://cdn.example.net', 'backend', 'bench-backend-secret');
           UPDATE channels SET origin = 'cdn';
           UPDATE subscribers SET max_connections = 10;`);
  db.close();
  return fixture;
}

/** The first stream URL of a playlist body: `http://cdn.example.net/live/channel-1/index.m3u8?token=…`. */
const firstUrl = (body) => body.split('\n').find((line) => line.startsWith('http://cdn.example.net/'));
const requestUri = (url) => {
  const { pathname, search } = new URL(url);
  return `${pathname}${search}`;
};

function inProcessDecision(dbPath) {
  const context = openContext(loadConfig({ ...env, LINEUP_DB: dbPath }), {});
  try {
    const request = { ip: IP, format: 'hls', gzip: false, holds: () => false, afterResponse: () => {} };
    const uri = requestUri(firstUrl(context.playlists.respond(benchKey(0), request).body.toString('utf8')));
    const { backend } = context.auth();
    const check = { dialect: 'nginx', token: new URL(`http://x${uri}`).searchParams.get('token'), ip: IP, path: uri.split('?')[0] };
    let allowed = 0;
    const decide = () => {
      if (backend.decide(check, Math.floor(Date.now() / 1000)).allow) allowed++;
    };
    const timing = measure(decide, 20_000);
    if (allowed < 20_050) throw new Error(`bench: the warm decision was refused ${20_050 - allowed} times`);
    return timing;
  } finally {
    context.close();
  }
}

/**
 * The same decision, each in an event-loop turn of its own, as on a server that is not busy: the
 * per-turn look at the database is then paid by every decision rather than shared.
 */
async function inProcessDecisionPerTurn(dbPath) {
  const context = openContext(loadConfig({ ...env, LINEUP_DB: dbPath }), {});
  try {
    const request = { ip: IP, format: 'hls', gzip: false, holds: () => false, afterResponse: () => {} };
    const uri = requestUri(firstUrl(context.playlists.respond(benchKey(0), request).body.toString('utf8')));
    const { backend } = context.auth();
    const check = { dialect: 'nginx', token: new URL(`http://x${uri}`).searchParams.get('token'), ip: IP, path: uri.split('?')[0] };
    const samples = new Float64Array(5000);
    for (let i = -200; i < samples.length; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      const started = performance.now();
      const allowed = backend.decide(check, Math.floor(Date.now() / 1000)).allow;
      if (i >= 0) samples[i] = performance.now() - started;
      if (!allowed) throw new Error('bench: the warm decision was refused');
    }
    samples.sort();
    return { median: samples[Math.floor(samples.length / 2)], p99: samples[Math.floor(samples.length * 0.99)] };
  } finally {
    context.close();
  }
}

/**
 * CPU seconds a process has used (user + system), from /proc. On a shared machine throughput
 * follows the load of others; the server's own CPU per request does much less.
 */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startBareKoa() {
  const child = fork(fileURLToPath(new URL('./koa-bare-server.js', import.meta.url)), [], { stdio: 'inherit' });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** Adds the auth rows to `rows` and returns the report's `auth` part. */
export async function runAuthPlan(rows) {
  const fixture = backendFixture();
  const stops = [];
  try {
    const decision = inProcessDecision(fixture.dbPath);
    rows.push([
      'auth decision in-process (nginx, warm)',
      `${round(decision.median * 1000, 2)} µs median`,
      `${round(decision.p99 * 1000, 2)} µs p99`,
      '',
    ]);
    const perTurn = await inProcessDecisionPerTurn(fixture.dbPath);
    rows.push([
      'auth decision, one per loop turn',
      `${round(perTurn.median * 1000, 2)} µs median`,
      `${round(perTurn.p99 * 1000, 2)} µs p99`,
      '',
    ]);

    const lineup = await startLineupServer({ ...env, LINEUP_DB: fixture.dbPath });
    stops.push(lineup.stop);
    const quiet = await startLineupServer({ ...env, LINEUP_DB: fixture.dbPath, LOG_LEVEL: 'warn' });
    stops.push(quiet.stop);
    const bare = await startBareKoa();
    stops.push(bare.stop);
    const body = await (await fetch(`${lineup.url}/playlist/${benchKey(0)}.m3u`)).text();
    const headers = { 'X-Original-URI': requestUri(firstUrl(body)), 'X-Real-IP': IP };
    const check = await fetch(`${lineup.url}/auth/nginx`, { headers });
    if (check.status !== 204) throw new Error(`bench: /auth/nginx answered ${check.status}`);
    const runOf = async ({ url, pid }, seconds) => {
      const cpuBefore = cpuSeconds(pid);
      const result = await loadTest(`${url}/auth/nginx`, { seconds, connections: CONNECTIONS, headers });
      return { ...result, cpuUsPerReq: ((cpuSeconds(pid) - cpuBefore) * 1e6) / (result.reqPerSec * seconds) };
    };
    // A fresh process spends its first seconds compiling: each gets load of its own first.
    for (const server of [bare, lineup, quiet]) await runOf(server, 5);
    const results = { bare: [], lineup: [], lineupLogWarn: [] };
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      for (const [name, server] of [
        ['lineup', lineup],
        ['lineupLogWarn', quiet],
      ]) {
        const before = await runOf(bare, RUN_SECONDS);
        const result = await runOf(server, RUN_SECONDS);
        const after = await runOf(bare, RUN_SECONDS);
        results.bare.push(before, after);
        results[name].push({
          ...result,
          ratio: result.reqPerSec / ((before.reqPerSec + after.reqPerSec) / 2),
          cpuRatio: (before.cpuUsPerReq + after.cpuUsPerReq) / 2 / result.cpuUsPerReq,
        });
      }
    }
    const report = {
      inProcessMedianUs: round(decision.median * 1000, 2),
      inProcessP99Us: round(decision.p99 * 1000, 2),
      perTurnMedianUs: round(perTurn.median * 1000, 2),
      perTurnP99Us: round(perTurn.p99 * 1000, 2),
      connections: CONNECTIONS,
    };
    for (const [name, runs] of Object.entries(results)) {
      const typical = median(runs, (run) => run.reqPerSec);
      const ratios = runs.map((run) => run.ratio).filter((ratio) => ratio !== undefined);
      const ratio = ratios.length ? median(ratios, (one) => one) : undefined;
      const cpuRatio = ratios.length ? median(runs, (run) => run.cpuRatio).cpuRatio : undefined;
      const cpuUsPerReq = median(runs, (run) => run.cpuUsPerReq).cpuUsPerReq;
      report[name] = {
        reqPerSec: Math.round(typical.reqPerSec),
        p99Ms: typical.p99Ms,
        cpuUsPerReq: round(cpuUsPerReq, 1),
        ...(ratio === undefined ? {} : { ratioToBareKoa: round(ratio, 3), cpuRatioToBareKoa: round(cpuRatio, 3) }),
        non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
        errors: runs.reduce((sum, run) => sum + run.errors, 0),
      };
      rows.push([
        `http /auth/nginx ${name} (${CONNECTIONS} conn)`,
        `${Math.round(typical.reqPerSec)} req/s, p99 ${typical.p99Ms} ms`,
        `${round(cpuUsPerReq, 1)} µs CPU/req`,
        ratio === undefined
          ? `${runs.length} runs`
          : `${round(100 * ratio, 1)}% of bare koa's req/s; its CPU/req is ${round(100 * cpuRatio, 1)}% of ours${report[name].non2xx ? `; ${report[name].non2xx} non-2xx` : ''}`,
      ]);
    }
    return report;
  } finally {
    for (const stop of stops) await stop();
    fixture.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = [];
  const report = await runAuthPlan(rows);
  const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
  console.log(JSON.stringify({ node: process.version, runSeconds: RUN_SECONDS, rounds: ROUNDS, auth: report }));
}
