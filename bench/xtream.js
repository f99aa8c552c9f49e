// The Xtream Codes plans of `npm run bench`, each held to a ceiling that sends the same answer with
// none of Lineup's work: get_live_streams for 5,000 channels against a static server sending the
// same bytes, and a /live/… redirect against a bare koa route answering the same 302. Runs on its
// own with `node bench/run.js xtream` or `node bench/xtream.js` after `npm run build` (BENCH_SECONDS, BENCH_ROUNDS).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFixture, SECURETOKEN_KEY } from './fixture.js';
import { loadTest, startBareRedirectServer, startCeilingServer, startLineupServer } from './http.js';
import { median, round } from './stats.js';

const RUN_SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = 10;
const CHANNELS = 5000;
const USERNAME = 'user0';
const PASSWORD = 'bench-xc-pass';
const root = fileURLToPath(new URL('..', import.meta.url));

/** Each plan between two runs of its ceiling; its ratio to their mean, the median of the rounds kept. */
async function ratioRounds(plan, ceiling) {
  for (const target of [ceiling, plan]) await loadTest(target.url, { seconds: 3, connections: CONNECTIONS });
  const results = [];
  for (let round = 0; round < ROUNDS; round++) {
    const before = await loadTest(ceiling.url, { seconds: RUN_SECONDS, connections: CONNECTIONS });
    const result = await loadTest(plan.url, { seconds: RUN_SECONDS, connections: CONNECTIONS });
    const after = await loadTest(ceiling.url, { seconds: RUN_SECONDS, connections: CONNECTIONS });
    results.push({
      ...result,
      ceiling: (before.reqPerSec + after.reqPerSec) / 2,
      ratio: result.reqPerSec / ((before.reqPerSec + after.reqPerSec) / 2),
    });
  }
  const typical = median(results, (result) => result.reqPerSec);
  const ratios = results.map((result) => result.ratio);
  return {
    reqPerSec: Math.round(typical.reqPerSec),
    ceilingReqPerSec: Math.round(median(results, (result) => result.ceiling).ceiling),
    p99Ms: typical.p99Ms,
    bytesPerReq: typical.bytesPerReq,
    ratioToCeiling: round(
      median(ratios, (one) => one),
      3,
    ),
    ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)],
    errors: results.reduce((sum, result) => sum + result.errors, 0),
  };
}

export async function benchXtream() {
  const fixture = createFixture({ channels: CHANNELS, subscribers: 10 });
  const servers = [];
  const started = (server) => {
    servers.push(server);
    return server;
  };
  try {
    const env = { SECURETOKEN_KEY, ORIGIN_URL: 'http://flussonic.example.net', LOG_LEVEL: 'info', LINEUP_DB: fixture.dbPath };
    // The bench user's XC password, set the operator's way (which also creates the credentials key).
    execFileSync(process.execPath, ['bin/lineup.js', 'subscriber', 'rotate-password', USERNAME, '--password', PASSWORD], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const lineup = started(await startLineupServer(env));
    const streamsPath = `/player_api.php?username=${USERNAME}&password=${PASSWORD}&action=get_live_streams`;
    const streams = await fetch(lineup.url + streamsPath);
    const body = Buffer.from(await streams.arrayBuffer());
    if (streams.status !== 200) throw new Error(`bench: get_live_streams answered ${streams.status}`);
    const bodyFile = join(fixture.dir, 'live-streams.json');
    writeFileSync(bodyFile, body);
    const staticServer = started(await startCeilingServer(bodyFile, 1, undefined, 'application/json'));

    const livePath = `/live/${USERNAME}/${PASSWORD}/1.ts`;
    const live = await fetch(lineup.url + livePath, { redirect: 'manual' });
    if (live.status !== 302) throw new Error(`bench: /live answered ${live.status}`);
    const bareKoa = started(await startBareRedirectServer(live.headers.get('location')));

    const getLiveStreams = await ratioRounds({ url: lineup.url + streamsPath }, { url: staticServer.url + streamsPath });
    const liveRedirect = await ratioRounds({ url: lineup.url + livePath }, { url: bareKoa.url + livePath });
    return {
      report: { getLiveStreams: { channels: CHANNELS, bytes: body.length, ...getLiveStreams }, liveRedirect },
      rows: [
        [
          `xc get_live_streams ${CHANNELS} ch (${Math.round(body.length / 1024)} kB)`,
          `${getLiveStreams.reqPerSec} req/s, p99 ${getLiveStreams.p99Ms} ms`,
          `static ${getLiveStreams.ceilingReqPerSec} req/s`,
          `${round(100 * getLiveStreams.ratioToCeiling, 1)}% of static`,
        ],
        [
          'xc /live redirect',
          `${liveRedirect.reqPerSec} req/s, p99 ${liveRedirect.p99Ms} ms`,
          `bare koa ${liveRedirect.ceilingReqPerSec} req/s`,
          `${round(100 * liveRedirect.ratioToCeiling, 1)}% of bare koa`,
        ],
      ],
    };
  } finally {
    for (const server of servers) await server.stop();
    fixture.cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { report, rows } = await benchXtream();
  for (const row of rows) console.log(row.join('  '));
  console.log(JSON.stringify({ runSeconds: RUN_SECONDS, rounds: ROUNDS, xtream: report }));
}
