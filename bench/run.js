// `npm run bench`: the hashing floor, in-process rendering, HTTP against the pre-rendered ceiling,
// memory, loading a 50 MB programme guide into the memory plan's server, and a prune of 200k
// subscribers under load (bench/prune.js). Prints a table and
// one JSON line. Numbers on a shared 2-core machine are noisy. `node bench/run.js epg` (or render,
// http, auth, memory, xtream, prune) runs those plans only; `npm run bench:epg` builds and runs the EPG plan.
import { hash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../dist/config.js';
import { openContext } from '../dist/context.js';
import { createLogger } from '../dist/logger.js';
import { benchAdminApi } from './admin-api.js';
import { runAuthPlan } from './auth-plan.js';
import { benchGuideLoad } from './epg-guide.js';
import { benchKey, createFixture, SECURETOKEN_KEY } from './fixture.js';
import { loadTest, rssMb, startCeilingServer, startLineupServer } from './http.js';
import { prunePlan } from './prune.js';
import { measure, median, round } from './stats.js';
import { benchXtream } from './xtream.js';

/** Seconds of each HTTP run; every plan runs once per round, between two runs of its ceiling. */
const RUN_SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/**
 * Single rounds of the same code range over 40 points, so the median of five still moved by ten
 * from one run to the next; nine narrow that by a quarter for two more minutes.
 */
const HTTP_ROUNDS = 9;
const CONNECTIONS = 10;
/** The cold HTTP run is repeated with this many worker processes (WORKERS), and so is the ceiling. */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const IP = '127.0.0.1';
const baseEnv = { SECURETOKEN_KEY, ORIGIN_URL: 'http://flussonic.example.net', LOG_LEVEL: 'info' };

/**
 * (a) The work no request can avoid: one sha1 per channel, and the output copied once. At its
 * cheapest, so that no render can look faster than the floor by doing the same work differently:
 * the hash inputs are bytes ready in memory, and the copy goes into memory already in use.
 */
function floorOf(channels, outputBytes) {
  const inputs = Array.from({ length: channels }, (_, i) =>
    Buffer.from(`live/channel-${i}127.0.0.117000000001700010800${SECURETOKEN_KEY}0123456789abcdef0123456789abcdef`),
  );
  const output = Buffer.alloc(outputBytes, 'x');
  const copy = Buffer.alloc(outputBytes);
  let sink = 0;
  return () => {
    for (const input of inputs) sink += hash('sha1', input).length;
    copy.set(output, 0);
    sink += copy[outputBytes - 1];
    // Using the results keeps the loop from being optimised away.
    if (sink === 0) throw new Error('floor: nothing hashed');
  };
}

/** (b) One cold playlist in-process: lookup, checks and a fresh signature per channel. */
function openRenderer(dbPath) {
  const config = loadConfig({ ...baseEnv, LINEUP_DB: dbPath, TOKEN_BUCKET: '0' });
  const context = openContext(config, { logger: createLogger('silent') });
  const key = benchKey(0);
  // As the server does: each response's buffer goes back once it has been sent.
  let release = () => {};
  const request = { ip: IP, format: 'hls', gzip: false, holds: () => false, afterResponse: (done) => (release = done) };
  const first = context.playlists.respond(key, request).body;
  return {
    body: Buffer.from(first),
    render: () => {
      context.playlists.respond(key, request);
      release();
    },
    close: () => context.close(),
  };
}

/**
 * Floor and render measured in alternating rounds, so that a noisy spell on a shared machine hits
 * both. Noise only ever adds time: the lowest median of the rounds is kept, and the highest p99.
 */
const ROUNDS = 5;
function alternate(fns, iterations) {
  const best = fns.map(() => ({ median: Infinity, p99: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    fns.forEach((fn, i) => {
      const result = measure(fn, iterations);
      best[i] = { median: Math.min(best[i].median, result.median), p99: Math.max(best[i].p99, result.p99) };
    });
  }
  return best;
}

/** The plans named on the command line; none named, all of them. */
const PLANS = ['render', 'http', 'memory', 'auth', 'epg', 'xtream', 'admin', 'prune'];
const asked = process.argv.slice(2);
for (const plan of asked) if (!PLANS.includes(plan)) throw new Error(`bench: no plan "${plan}" (plans: ${PLANS.join(', ')})`);
const wants = (plan) => asked.length === 0 || asked.includes(plan);

const rows = [];
const report = { render: {}, http: {}, auth: {}, memory: {}, epg: {}, xtream: {} };

for (const channels of wants('render') ? [100, 1000, 5000] : []) {
  const fixture = createFixture({ channels, subscribers: 10 });
  try {
    const renderer = openRenderer(fixture.dbPath);
    const { body } = renderer;
    let base, timing;
    try {
      [base, timing] = alternate([floorOf(channels, body.length), renderer.render], channels >= 5000 ? 60 : 200);
    } finally {
      renderer.close();
    }
    report.render[channels] = {
      bytes: body.length,
      floorMedianMs: round(base.median),
      renderMedianMs: round(timing.median),
      renderP99Ms: round(timing.p99),
      ratioToFloor: round(timing.median / base.median, 2),
    };
    rows.push([
      `render ${channels} ch (${Math.round(body.length / 1024)} kB)`,
      `${round(timing.median)} ms median, ${round(timing.p99)} ms p99`,
      `floor ${round(base.median)} ms`,
      `${round(timing.median / base.median, 2)}× floor`,
    ]);
  } finally {
    fixture.cleanup();
  }
}

// (c) HTTP, 1,000 channels.
if (wants('http')) {
  const fixture = createFixture({ channels: 1000, subscribers: 10 });
  const servers = [];
  try {
    const key = benchKey(0);
    const path = `/playlist/${key}.m3u`;
    const bodyFile = join(fixture.dir, 'prerendered.m3u');
    const gzipFile = join(fixture.dir, 'prerendered.m3u.gz');
    {
      const server = await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath });
      const body = Buffer.from(await (await fetch(server.url + path)).arrayBuffer());
      writeFileSync(bodyFile, body);
      writeFileSync(gzipFile, gzipSync(body, { level: 1 }));
      await server.stop();
    }
    const started = async (server) => {
      servers.push(server);
      return server;
    };
    const ceiling1 = await started(await startCeilingServer(bodyFile, 1, gzipFile));
    const ceilingN = await started(await startCeilingServer(bodyFile, WORKERS));
    const cold1 = await started(await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '0' }));
    const coldN = await started(
      await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '0', WORKERS: String(WORKERS) }),
    );
    // Buckets of an hour: with the default 5 minutes a boundary could fall inside a run and turn
    // its 304s into 200s. Warm means within one bucket, whatever its length.
    const warm = await started(await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '3600' }));
    // The identity representation's ETag: the load generator asks for no gzip.
    const current = await fetch(warm.url + path, { headers: { 'Accept-Encoding': 'identity' } });
    await current.arrayBuffer();
    const etag = current.headers.get('etag');
    // Without a tag the warm304 plan would measure full answers and call them 304s.
    if (!etag) throw new Error('bench: the warm server sent no ETag');

    const gzip = { 'Accept-Encoding': 'gzip' };
    // Each plan against the ceiling it is held to. The load generator reads a gzipped body far
    // slower than a plain one (a bare node:http server answering the same gzip bytes is held to
    // the same rate), so gzip has its own ceiling; more processes are held to as many.
    const plans = [
      { name: 'cold', server: cold1, ceiling: 'ceiling' },
      { name: `coldWorkers${WORKERS}`, server: coldN, ceiling: `ceilingWorkers${WORKERS}` },
      { name: 'warm', server: warm, ceiling: 'ceiling' },
      { name: 'warm304', server: warm, headers: { 'If-None-Match': etag }, ceiling: 'ceiling' },
      { name: 'warmGzip', server: warm, headers: gzip, ceiling: 'ceilingGzip' },
    ];
    const ceilings = {
      ceiling: { server: ceiling1 },
      [`ceilingWorkers${WORKERS}`]: { server: ceilingN },
      ceilingGzip: { server: ceiling1, headers: gzip },
    };
    const runOf = ({ server, headers = {} }, seconds) => loadTest(server.url + path, { seconds, connections: CONNECTIONS, headers });
    /**
     * A fresh process spends its first seconds compiling (V8 optimises a few hundred functions,
     * then stops), which a server that has run for a minute no longer does: every server and
     * request kind first gets three seconds of its own load.
     */
    for (const target of [...Object.values(ceilings), ...plans]) await runOf(target, 3);
    /**
     * This machine's speed drifts by half over minutes, so only runs seconds apart compare. Each
     * plan runs between two runs of its ceiling, and its ratio is to their mean; the median of the
     * rounds is kept.
     */
    const rounds = Object.fromEntries([...Object.keys(ceilings), ...plans.map((plan) => plan.name)].map((name) => [name, []]));
    for (let pass = 0; pass < HTTP_ROUNDS; pass++) {
      let last;
      for (const plan of plans) {
        // Plans held to the same ceiling share the run between them.
        const shared = last?.name === plan.ceiling;
        const before = shared ? last.result : await runOf(ceilings[plan.ceiling], RUN_SECONDS);
        const result = await runOf(plan, RUN_SECONDS);
        const after = await runOf(ceilings[plan.ceiling], RUN_SECONDS);
        if (!shared) rounds[plan.ceiling].push(before);
        rounds[plan.ceiling].push(after);
        rounds[plan.name].push({ ...result, ratio: result.reqPerSec / ((before.reqPerSec + after.reqPerSec) / 2) });
        last = { name: plan.ceiling, result: after };
      }
    }
    for (const [name, results] of Object.entries(rounds)) {
      const typical = median(results, (result) => result.reqPerSec);
      const ratios = results.map((result) => result.ratio).filter((ratio) => ratio !== undefined);
      const ratio = ratios.length ? median(ratios, (one) => one) : undefined;
      report.http[name] = {
        reqPerSec: Math.round(typical.reqPerSec),
        p99Ms: typical.p99Ms,
        ...(ratio === undefined
          ? {}
          : { ratioToCeiling: round(ratio, 3), ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)] }),
        bytesPerReq: typical.bytesPerReq,
        non2xx: results.reduce((sum, result) => sum + result.non2xx, 0),
        errors: results.reduce((sum, result) => sum + result.errors, 0),
      };
      const against = plans.find((plan) => plan.name === name)?.ceiling;
      rows.push([
        `http 1000 ch ${name}`,
        `${Math.round(typical.reqPerSec)} req/s, p99 ${typical.p99Ms} ms`,
        `${typical.bytesPerReq} B/resp`,
        ratio === undefined
          ? `${results.length} runs`
          : `${round(100 * ratio, 1)}% of ${against} (rounds ${Math.round(100 * Math.min(...ratios))}–${Math.round(100 * Math.max(...ratios))}%)`,
      ]);
    }
  } finally {
    for (const server of servers) await server.stop();
    fixture.cleanup();
  }
}

// (d) The auth backend: nginx auth_request on a warm decision, and one decision in-process.
if (wants('auth')) report.auth = await runAuthPlan(rows);

/** 200 playlists of subscribers spread over the fixture, half of them gzipped: a server that has been in use. */
async function servePlaylistSpread(server) {
  for (let i = 0; i < 200; i++) {
    const response = await fetch(`${server.url}/playlist/${benchKey(i * 499)}.m3u`, {
      headers: { 'Accept-Encoding': i % 2 ? 'gzip' : 'identity' },
    });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`memory run: status ${response.status}`);
  }
}

// (e) Memory: 100k subscribers, 5,000 channels, after serving a spread of subscribers.
// (f) Then a 50 MB XMLTV guide, generated, loaded by that server: load time and peak RSS.
if (wants('memory') || wants('epg')) {
  const fixture = createFixture({ channels: 5000, subscribers: 100_000 });
  try {
    if (wants('memory')) {
      const server = await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath });
      await servePlaylistSpread(server);
      const memory = rssMb(server.pid);
      await server.stop();
      report.memory = { subscribers: 100_000, channels: 5000, rssMb: round(memory.rss, 1), peakRssMb: round(memory.peak, 1) };
      rows.push(['memory 100k subs, 5000 ch', `RSS ${round(memory.rss, 1)} MB`, `peak ${round(memory.peak, 1)} MB`, '']);
    }
    if (wants('epg')) {
      const epg = await benchGuideLoad(fixture.dir, { ...baseEnv, LINEUP_DB: fixture.dbPath }, servePlaylistSpread);
      report.epg = epg;
      rows.push([
        `epg ${epg.guideMb} MB, ${epg.programmes} programmes`,
        `load ${epg.loadMs} ms, reload ${epg.reloadMs} ms`,
        `peak RSS ${epg.peakRssBeforeGuideMb} MB before, ${epg.peakRssFirstLoadMb} MB loaded, ${epg.peakRssWithReloadMb} MB with a reload`,
        `/healthz ≤ ${epg.slowestHealthzMsDuringLoad} ms while loading`,
      ]);
    }
  } finally {
    fixture.cleanup();
  }
}

// (g) Xtream Codes: get_live_streams at 5,000 channels, and a /live/… redirect, each against its ceiling.
if (wants('xtream')) {
  const xtream = await benchXtream();
  report.xtream = xtream.report;
  rows.push(...xtream.rows);
}

// (h) The admin API: create and renew over HTTP, a list page at 100k subscribers (admin-api.js).
if (wants('admin')) {
  const admin = await benchAdminApi();
  rows.push(...admin.rows);
  report.adminApi = admin.report;
}

// (i) Prune: 200,000 lapsed of 1,000,000 subscribers while a fleet fetches (bench/prune.js).
if (wants('prune')) {
  const [result] = await prunePlan();
  report.prune = result;
  rows.push([
    'prune 200k of 1M subscribers',
    `${result.pruneSeconds} s, WAL after ${result.walMbAfter} MB`,
    `p99 ${result.p99BeforeMs} → ${result.p99DuringMs} → ${result.p99AfterMs} ms`,
    `during ${result.duringRatio}× before, commit spike ${result.commitSpikeRatio}× p99 (${result.commits} commits; slowest of all ${result.slowestRatio}×)`,
  ]);
}

const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column].length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
console.log(
  JSON.stringify({
    node: process.version,
    runSeconds: RUN_SECONDS,
    rounds: HTTP_ROUNDS,
    connections: CONNECTIONS,
    workers: WORKERS,
    ...report,
  }),
);
