// `npm run bench`: the hashing floor, in-process rendering, HTTP against the pre-rendered ceiling,
// and memory. Prints a table and one JSON line. Numbers on a shared 2-core machine are noisy.
import { hash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../dist/config.js';
import { openContext } from '../dist/context.js';
import { createLogger } from '../dist/logger.js';
import { benchKey, createFixture, SECURETOKEN_KEY } from './fixture.js';
import { loadTest, rssMb, startCeilingServer, startLineupServer } from './http.js';
import { measure, round } from './stats.js';

/** Seconds of load per HTTP plan, split over HTTP_ROUNDS rounds. */
const HTTP_SECONDS = Number(process.env.BENCH_SECONDS ?? 9);
const HTTP_ROUNDS = 3;
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
  return {
    body: Buffer.from(context.playlists.forKey(key, { ip: IP, format: 'hls' }).body()),
    // As the server does: each response's buffer goes back once it has been sent.
    render: () => {
      const served = context.playlists.forKey(key, { ip: IP, format: 'hls' });
      served.body();
      served.release();
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

const rows = [];
const report = { render: {}, http: {}, memory: {} };

for (const channels of [100, 1000, 5000]) {
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
    rows.push([`render ${channels} ch (${Math.round(body.length / 1024)} kB)`, `${round(timing.median)} ms median, ${round(timing.p99)} ms p99`, `floor ${round(base.median)} ms`, `${round(timing.median / base.median, 2)}× floor`]);
  } finally {
    fixture.cleanup();
  }
}

// (c) HTTP, 1,000 channels.
{
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
    const started = async (server) => (servers.push(server), server);
    const ceiling1 = await started(await startCeilingServer(bodyFile, 1, gzipFile));
    const ceilingN = await started(await startCeilingServer(bodyFile, WORKERS));
    const cold1 = await started(await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '0' }));
    const coldN = await started(await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '0', WORKERS: String(WORKERS) }));
    // Buckets of an hour: with the default 5 minutes a boundary could fall inside a run and turn
    // its 304s into 200s. Warm means within one bucket, whatever its length.
    const warm = await started(await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '3600' }));
    const current = await fetch(warm.url + path);
    await current.arrayBuffer();
    const etag = current.headers.get('etag') ?? '"none"';

    const plans = [
      ['ceiling', ceiling1, {}],
      [`ceilingWorkers${WORKERS}`, ceilingN, {}],
      ['cold', cold1, {}],
      [`coldWorkers${WORKERS}`, coldN, {}],
      ['warm', warm, {}],
      ['warm304', warm, { 'If-None-Match': etag }],
      // The load generator reads a gzipped body far slower than a plain one (a bare node:http
      // server answering the same gzip bytes is held to the same rate), so gzip has its own ceiling.
      ['ceilingGzip', ceiling1, { 'Accept-Encoding': 'gzip' }],
      ['warmGzip', warm, { 'Accept-Encoding': 'gzip' }],
    ];
    /**
     * A fresh process spends its first seconds compiling (V8 optimises a few hundred functions,
     * then stops), which a server that has run for a minute no longer does: every plan first gets
     * three seconds of its own load.
     */
    for (const [, server, headers] of plans) await loadTest(server.url + path, { seconds: 3, connections: CONNECTIONS, headers });
    /**
     * This machine's speed drifts over minutes, so a ratio of runs a minute apart measures the
     * drift. Every plan runs once per round, in turn, and noise only ever takes requests away:
     * each plan's best round is kept.
     */
    const best = {};
    for (let round = 0; round < HTTP_ROUNDS; round++) {
      for (const [name, server, headers] of plans) {
        const result = await loadTest(server.url + path, { seconds: Math.max(1, Math.round(HTTP_SECONDS / HTTP_ROUNDS)), connections: CONNECTIONS, headers });
        if (!best[name] || result.reqPerSec > best[name].reqPerSec) best[name] = result;
      }
    }
    // Whichever serves more: with autocannon on the same cores, more processes may serve less.
    const plainCeiling = [best.ceiling, best[`ceilingWorkers${WORKERS}`]].reduce((a, b) => (a.reqPerSec >= b.reqPerSec ? a : b));
    for (const [name, result] of Object.entries(best)) {
      const ceiling = /Gzip$/.test(name) ? best.ceilingGzip : plainCeiling;
      report.http[name] = {
        reqPerSec: Math.round(result.reqPerSec),
        p99Ms: result.p99Ms,
        ratioToCeiling: round(result.reqPerSec / ceiling.reqPerSec, 3),
        bytesPerReq: result.bytesPerReq,
        non2xx: result.non2xx,
        errors: result.errors,
      };
      rows.push([`http 1000 ch ${name}`, `${Math.round(result.reqPerSec)} req/s, p99 ${result.p99Ms} ms`, `${result.bytesPerReq} B/resp`, `${round((100 * result.reqPerSec) / ceiling.reqPerSec, 1)}% of ceiling`]);
    }
  } finally {
    for (const server of servers) await server.stop();
    fixture.cleanup();
  }
}

// (d) Memory: 100k subscribers, 5,000 channels, after serving a spread of subscribers.
{
  const fixture = createFixture({ channels: 5000, subscribers: 100_000 });
  try {
    const server = await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath });
    for (let i = 0; i < 200; i++) {
      const response = await fetch(`${server.url}/playlist/${benchKey(i * 499)}.m3u`, { headers: { 'Accept-Encoding': i % 2 ? 'gzip' : 'identity' } });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`memory run: status ${response.status}`);
    }
    const memory = rssMb(server.pid);
    await server.stop();
    report.memory = { subscribers: 100_000, channels: 5000, rssMb: round(memory.rss, 1), peakRssMb: round(memory.peak, 1) };
    rows.push(['memory 100k subs, 5000 ch', `RSS ${round(memory.rss, 1)} MB`, `peak ${round(memory.peak, 1)} MB`, '']);
  } finally {
    fixture.cleanup();
  }
}

const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column].length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
console.log(JSON.stringify({ node: process.version, seconds: HTTP_SECONDS, rounds: HTTP_ROUNDS, connections: CONNECTIONS, workers: WORKERS, ...report }));
