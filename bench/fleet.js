// `npm run bench:fleet` (and the second half of `npm run bench`): a fleet of set-top boxes, each
// fetching its own playlist once, on the default TOKEN_BUCKET, so that nearly every request is a
// cache miss; next to a cold server (TOKEN_BUCKET=0, one client) and the ceiling (pre-rendered
// bytes from node:http), at 100, 1,000, 5,000 and 20,000 channels. Then 304s against a bare
// node:http empty response.
//
// On a shared machine, requests per second measure the neighbours as much as the server, so the
// figure is the server's own CPU per request: utime + stime from /proc/PID/stat around each run,
// divided by the responses autocannon counted. Plans alternate in rounds; each plan's median round
// is its figure, and a ratio of two plans is the median of their ratios round by round.
// The 5,000- and 20,000-channel plans alternate with each other too, for the exponent between
// them; 5,000 channels has a stage of its own as well, and its fleet ÷ cold pools both stages.
// The fleet and cold plans each run on SERVER_PROCESSES processes, their runs pooled per round;
// a size whose fleet ÷ cold is a target gets twice as many, in its own stage or over both.
//
// FLEET_CHANNELS=1000,5000 FLEET_SUBSCRIBERS=10000 FLEET_SECONDS=3 FLEET_ROUNDS=5 narrow a run.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuRun, medianRound } from './cpu-run.js';
import { benchKey, createFixture, SECURETOKEN_KEY } from './fixture.js';
import { rssMb, startCeilingServer, startLineupServer } from './http.js';
import { median, round } from './stats.js';

const CHANNELS = (process.env.FLEET_CHANNELS ?? '100,1000,5000,20000').split(',').map(Number);
/** At least 10,000: more boxes than any playlist cache holds, as in a fleet. */
const SUBSCRIBERS = Number(process.env.FLEET_SUBSCRIBERS ?? 10_000);
const SECONDS = Number(process.env.FLEET_SECONDS ?? 3);
/**
 * Seven: the median of three moved by ±0.05 in fleet ÷ cold from one run of the same code to the
 * next, and the median of five still gave 1.03–1.14 at 5,000 channels, where rounds spread 0.93–1.17.
 */
const ROUNDS = Number(process.env.FLEET_ROUNDS ?? 7);
const CONNECTIONS = 10;
/** Warm-up rounds of every plan in turn, WARM_UP_SECONDS each: from 6 s to a minute per lineup size. */
const WARM_UP_SECONDS = 2;
const WARM_UP_MOST_ROUNDS = 10;
/**
 * Processes per fleet or cold plan, each measured in every round, pooled as one: two processes of
 * the same build differ steadily, by up to 4.6% over twelve rounds at 1,000 channels, and one pair
 * of fleet and cold processes gave fleet ÷ cold 0.97–1.02 where another gave 1.04–1.06. With one
 * process each, a ratio measured the pair as much as the code.
 */
const SERVER_PROCESSES = 2;
const baseEnv = { SECURETOKEN_KEY, ORIGIN_URL: 'http://flussonic.example.net', LOG_LEVEL: 'info' };

/** One load run of this plan's shape. */
const run = (server, pathOf, { seconds = SECONDS, headers = {} } = {}) =>
  cpuRun(server, pathOf, { seconds, connections: CONNECTIONS, headers });

const report = { subscribers: SUBSCRIBERS, seconds: SECONDS, rounds: ROUNDS, channels: {}, exponentStage: {}, notModified: {} };
const rows = [];
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// Boxes rotate: each request is another subscriber, and one subscriber comes back only after all
// the others, as a fleet does within a bucket. Each fleet server has its own counter, which runs on
// across runs.
const fleetPath = () => {
  let box = 0;
  const pathOf = () => `/playlist/${benchKey(box++ % SUBSCRIBERS)}.m3u`;
  pathOf.served = () => box;
  return pathOf;
};

/**
 * `a` ÷ `b` round by round, and the median of those: each pair ran seconds apart, where the medians
 * of `a` and of `b` on their own may come from rounds minutes apart, with the machine's drift
 * between them (at 1,000 channels, fleet ÷ cold once came out 1.15 that way, and 1.03 round by round).
 */
function pairedRatio(a, b) {
  const rounds = a.map((run, i) => round(run.cpuUs / b[i].cpuUs, 3));
  return { median: median(rounds, (ratio) => ratio), rounds };
}

const spread = (values) => `${Math.min(...values)}–${Math.max(...values)}`;

/** How a size's rows are named: the shared stage's say so, since a size may be measured in both. */
const label = (channels, stage) => (stage.shared ? `${channels} ch (shared)` : `${channels} ch`);

/** The two sizes whose CPU exponent is a target. */
const EXPONENT_SIZES = [5000, 20000];
/** Sizes whose fleet ÷ cold is a target. */
const FLEET_TARGET_SIZES = [1000, 5000];
/**
 * The exponent's sizes are measured together, their plans alternating in the same rounds: the
 * exponent is a ratio across sizes, and two sizes measured minutes apart carry the machine's drift
 * between them (in two whole runs of the same code, 5,000 channels cost 1,480–1,505 µs a response,
 * and 1,747–2,091 µs in six runs of these two sizes alone, while 20,000 channels cost the same in
 * both). Every size whose fleet ÷ cold is a target also has a stage of its own, and its ratio is
 * taken over the rounds of both stages: each stage starts its own processes, and one set of them
 * leans the ratio by several percent (in one run, 1.00 alone and 1.12 shared at 5,000 channels,
 * each stage's rounds on one side of 1.05), so twice the processes halve that lean's weight.
 */
const exponentStage = EXPONENT_SIZES.every((channels) => CHANNELS.includes(channels)) ? EXPONENT_SIZES : [];
const stages = [
  ...CHANNELS.filter((channels) => !exponentStage.includes(channels) || FLEET_TARGET_SIZES.includes(channels)).map((channels) => ({
    sizes: [channels],
    shared: false,
  })),
  { sizes: exponentStage, shared: true },
].filter((stage) => stage.sizes.length > 0);

/**
 * Fleet and cold processes of a size. A target size outside the shared stage gets as many in its
 * one stage as 5,000 channels gets over its two: at 1,000 channels, where the fleet's fixed extra
 * cost is about 1.06 of a response, one set of two processes leaned a run to 1.12 (its second
 * fleet process the dearer in 5 of 7 rounds).
 */
const processesFor = (channels) =>
  FLEET_TARGET_SIZES.includes(channels) && !exponentStage.includes(channels) ? 2 * SERVER_PROCESSES : SERVER_PROCESSES;

/** A lineup of `channels`: its fleet, cold and ceiling servers, and its plans, a fleet and a cold one per process. */
async function startSize(channels, processes, fixtures, servers) {
  const fixture = createFixture({ channels, subscribers: SUBSCRIBERS });
  fixtures.push(fixture);
  const onePath = `/playlist/${benchKey(0)}.m3u`;
  const bodyFile = join(fixture.dir, 'prerendered.m3u');
  const fleets = [];
  const colds = [];
  for (let copy = 0; copy < processes; copy++) {
    fleets.push(await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath }));
    colds.push(await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '0' }));
    servers.push(fleets[copy], colds[copy]);
  }
  writeFileSync(bodyFile, Buffer.from(await (await fetch(fleets[0].url + onePath)).arrayBuffer()));
  const ceiling = await startCeilingServer(bodyFile);
  servers.push(ceiling);
  const fleetPaths = fleets.map(() => fleetPath());
  return {
    channels,
    fleets,
    fleetPaths,
    plans: [
      { name: 'ceiling', server: ceiling, pathOf: () => onePath },
      ...colds.flatMap((cold, copy) => [
        { name: 'cold', server: cold, pathOf: () => onePath },
        { name: 'fleet', server: fleets[copy], pathOf: fleetPaths[copy] },
      ]),
    ],
  };
}

/**
 * One plan's runs of a round (one per process, one after the other, each as long), as one run: CPU
 * per response over all their responses, and the rate over their time.
 */
function pooled(runs) {
  const responses = runs.reduce((sum, run) => sum + run.responses, 0);
  const perResponse = (field) => round(runs.reduce((sum, run) => sum + run[field] * run.responses, 0) / responses, 1);
  return {
    responses,
    reqPerSec: Math.round(runs.reduce((sum, run) => sum + run.reqPerSec, 0) / runs.length),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    p99Ms: Math.max(...runs.map((run) => run.p99Ms)),
    cpuUs: perResponse('cpuUs'),
    userUs: perResponse('userUs'),
    systemUs: perResponse('systemUs'),
  };
}

for (const stage of stages) {
  const fixtures = [];
  const servers = [];
  try {
    const sizes = [];
    for (const channels of stage.sizes) sizes.push(await startSize(channels, processesFor(channels), fixtures, servers));
    const plans = sizes.flatMap((size) => size.plans);
    // A fresh process compiles, and its heap grows, for its first seconds. The fleet's first pass
    // also looks up every box once (about 25 µs each at 1,000 channels), which a node remembering
    // 20,000 boxes does once per box, not once per bucket. So the warm-up runs until every box has
    // fetched, or for WARM_UP_MOST_ROUNDS, where a lookup is a small part of a response; and each
    // server is warmed as long as the fleet's.
    let warmUpRounds = 0;
    do {
      for (const plan of plans) await run(plan.server, plan.pathOf, { seconds: WARM_UP_SECONDS });
      warmUpRounds++;
    } while (sizes.some((size) => size.fleetPaths.some((boxes) => boxes.served() < SUBSCRIBERS)) && warmUpRounds < WARM_UP_MOST_ROUNDS);
    const results = new Map(plans.map((plan) => [plan, []]));
    const loads = [];
    for (let pass = 0; pass < ROUNDS; pass++) {
      for (const plan of plans) results.get(plan).push(await run(plan.server, plan.pathOf));
      loads.push(loadavg());
      for (const size of sizes) {
        const cells = size.plans.map((plan) => `${plan.name} ${results.get(plan)[pass].cpuUs} µs`);
        console.error(`${label(size.channels, stage)} round ${pass + 1}: ${cells.join(', ')}`);
      }
    }
    for (const { channels, fleets, plans: sizePlans } of sizes) {
      // The larger fleet process: the memory target holds for each.
      const memory = fleets.map((fleet) => rssMb(fleet.pid)).reduce((larger, one) => (one.rss > larger.rss ? one : larger));
      const names = [...new Set(sizePlans.map((plan) => plan.name))];
      const byName = Object.fromEntries(
        names.map((name) => {
          const processes = sizePlans.filter((plan) => plan.name === name).map((plan) => results.get(plan));
          return [name, processes[0].map((_, pass) => pooled(processes.map((runs) => runs[pass])))];
        }),
      );
      const typical = Object.fromEntries(Object.entries(byName).map(([name, runs]) => [name, medianRound(runs)]));
      const fleetToCold = pairedRatio(byName.fleet, byName.cold);
      const summary = {
        ...typical,
        rounds: byName,
        fleetToCold: round(fleetToCold.median, 2),
        fleetToColdRounds: fleetToCold.rounds,
        coldToCeiling: round(pairedRatio(byName.ceiling, byName.cold).median, 3),
        fleetRssMb: round(memory.rss, 1),
        fleetPeakRssMb: round(memory.peak, 1),
        loadavg: loads,
      };
      // A size measured alone as well reports that stage's figures; its fleet ÷ cold pools both stages (below).
      if (stage.shared) report.exponentStage[channels] = summary;
      report.channels[channels] ??= summary;
      for (const [name, result] of Object.entries(typical)) {
        rows.push([
          `${label(channels, stage)} ${name}`,
          `${result.cpuUs} µs CPU/resp (user ${result.userUs}, sys ${result.systemUs})`,
          `p99 ${result.p99Ms} ms, ${result.responses} resp, non-2xx ${result.non2xx}, errors ${result.errors}`,
        ]);
      }
      rows.push([
        `${label(channels, stage)} ratios`,
        `fleet ${summary.fleetToCold}× cold (rounds ${spread(fleetToCold.rounds)}); cold ${summary.coldToCeiling}× ceiling rate`,
        `fleet RSS ${round(memory.rss, 1)} MB (peak ${round(memory.peak, 1)}); load ${loads.join(' | ')}`,
      ]);
    }
  } finally {
    for (const server of servers) await server.stop();
    for (const fixture of fixtures) fixture.cleanup();
  }
}

// A size measured in both stages: fleet ÷ cold over all its rounds, both stages' processes.
for (const [channels, shared] of Object.entries(report.exponentStage)) {
  const own = report.channels[channels];
  if (own === shared) continue;
  const both = pairedRatio([...own.rounds.fleet, ...shared.rounds.fleet], [...own.rounds.cold, ...shared.rounds.cold]);
  own.fleetToColdOwnStage = own.fleetToCold;
  own.fleetToCold = round(both.median, 2);
  rows.push([
    `${channels} ch, both stages`,
    `fleet ${own.fleetToCold}× cold (${both.rounds.length} rounds, ${2 * SERVER_PROCESSES} processes of each)`,
    `alone ${own.fleetToColdOwnStage}×, shared ${shared.fleetToCold}×`,
  ]);
}

const [low, high] = EXPONENT_SIZES.map((channels) => report.exponentStage[channels]);
if (low && high) {
  const exponent = (plan) => round(Math.log(pairedRatio(high.rounds[plan], low.rounds[plan]).median) / Math.log(20000 / 5000), 2);
  report.exponent5000to20000 = { fleet: exponent('fleet'), cold: exponent('cold'), ceiling: exponent('ceiling') };
  rows.push(['CPU exponent 5,000→20,000 ch', `fleet ${exponent('fleet')}, cold ${exponent('cold')}`, `ceiling ${exponent('ceiling')}`]);
}

// 304: a refresh that sends back its ETag, against node:http answering an empty 304.
{
  const fixture = createFixture({ channels: 1000, subscribers: 10 });
  const servers = [];
  try {
    const path = `/playlist/${benchKey(0)}.m3u`;
    // Buckets of an hour, so that no boundary inside a run turns the 304s into 200s.
    const warm = await startLineupServer({ ...baseEnv, LINEUP_DB: fixture.dbPath, TOKEN_BUCKET: '3600' });
    servers.push(warm);
    const current = await fetch(warm.url + path, { headers: { 'Accept-Encoding': 'identity' } });
    await current.arrayBuffer();
    const etag = current.headers.get('etag');
    if (!etag) throw new Error('bench: the warm server sent no ETag');
    const bare = await startCeilingServer('--not-modified');
    servers.push(bare);
    const headers = { 'If-None-Match': etag };
    const plans = [
      { name: 'bare', server: bare },
      { name: 'lineup304', server: warm },
    ];
    for (const plan of plans) await run(plan.server, () => path, { seconds: 2, headers });
    const results = { bare: [], lineup304: [] };
    const loads = [];
    for (let pass = 0; pass < ROUNDS; pass++) {
      for (const plan of plans) results[plan.name].push(await run(plan.server, () => path, { headers }));
      loads.push(loadavg());
    }
    const bareRun = medianRound(results.bare);
    const lineupRun = medianRound(results.lineup304);
    if (lineupRun.non2xx !== lineupRun.responses) throw new Error('bench: the 304 plan got full answers');
    report.notModified = { bare: bareRun, lineup: lineupRun, ratio: round(lineupRun.cpuUs / bareRun.cpuUs, 2), loadavg: loads };
    rows.push([`304 bare node:http`, `${bareRun.cpuUs} µs CPU/resp`, `p99 ${bareRun.p99Ms} ms`]);
    rows.push([
      `304 lineup`,
      `${lineupRun.cpuUs} µs CPU/resp (user ${lineupRun.userUs}, sys ${lineupRun.systemUs})`,
      `${report.notModified.ratio}× bare; load ${loads.join(' | ')}`,
    ]);
  } finally {
    for (const server of servers) await server.stop();
    fixture.cleanup();
  }
}

const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column].length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
console.log(JSON.stringify({ node: process.version, fleet: report }));
