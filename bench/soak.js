// `npm run soak [-- --clients 20 --seconds 120 --channels 1000 --workers 1]`: a script, not a test. The real
// server (`lineup serve`) in a child process serves a 1,000-channel lineup to N concurrent clients
// (autocannon, in its own process) for T seconds, while the prune job runs every 5 s and an admin
// connection keeps rewriting the lineup and adding lapsed subscribers for the job to delete.
// Reports errors (the bar is 0), p99 latency, and the server's RSS over time (it must stay flat).
import { hash } from 'node:crypto';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { benchKey, createFixture, SECURETOKEN_KEY } from './fixture.js';
import { loadTest, startLineupServer, treeRssMb } from './http.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '120' },
    channels: { type: 'string', default: '1000' },
    'admin-every-ms': { type: 'string', default: '500' },
    workers: { type: 'string', default: '1' },
  },
});
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const channels = Number(values.channels);
const adminEveryMs = Number(values['admin-every-ms']);
const SOAK_METRICS_TOKEN = 'soak-metrics-token-0123456789';

/** One admin "script": what an operator's SQL file does, in one transaction, on a live database. */
function adminScript(db, round) {
  db.transaction(() => {
    db.prepare("UPDATE channels SET name = 'Channel ' || id || ' r' || ? WHERE id % 50 = ? % 50").run(round, round);
    db.prepare("INSERT INTO channels (stream, name, number, group_title) VALUES (?, ?, ?, 'Soak')").run(
      `soak/extra-${round}`,
      `Extra ${round}`,
      100_000 + round,
    );
    db.prepare('DELETE FROM channels WHERE stream = ?').run(`soak/extra-${round - 3}`);
    const lapsed = db.prepare("INSERT INTO subscribers (username, key_hash, expires_at) VALUES (?, ?, datetime('now', '-30 days'))");
    for (let i = 0; i < 3; i++) lapsed.run(`lapsed-${round}-${i}`, hash('sha256', `lapsed-${round}-${i}`));
  }).immediate();
}

const fixture = createFixture({ channels, subscribers: 10 });
const server = await startLineupServer({
  LINEUP_DB: fixture.dbPath,
  SECURETOKEN_KEY,
  ORIGIN_URL: 'http://flussonic.example.net',
  PRUNE_CRON: '*/5 * * * * *',
  PRUNE_GRACE_DAYS: '7',
  LOG_LEVEL: 'warn',
  WORKERS: values.workers,
  // The public port serves /metrics only with a token.
  METRICS_TOKEN: SOAK_METRICS_TOKEN,
});
const admin = new Database(fixture.dbPath);
admin.pragma('busy_timeout = 5000');

const rss = [];
const adminErrors = [];
let rounds = 0;
const started = Date.now();
const sampler = setInterval(
  () => rss.push({ s: Math.round((Date.now() - started) / 1000), mb: Math.round(treeRssMb(server.pid).rss * 10) / 10 }),
  2000,
);
const changer = setInterval(() => {
  try {
    adminScript(admin, ++rounds);
  } catch (error) {
    adminErrors.push(error.message);
  }
}, adminEveryMs);

let result;
try {
  result = await loadTest(`${server.url}/playlist/${benchKey(0)}.m3u`, { seconds, connections: clients });
} finally {
  clearInterval(sampler);
  clearInterval(changer);
}
const metrics = await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${SOAK_METRICS_TOKEN}` } })).text();
const pruned = Number(/^lineup_prune_deleted_subscribers_total (\d+)/m.exec(metrics)?.[1] ?? 0);
const pruneFailures = Number(/^lineup_prune_failures_total (\d+)/m.exec(metrics)?.[1] ?? 0);
const ok200 = Number(/^lineup_playlist_requests_total\{outcome="200"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
await server.stop();
admin.close();
fixture.cleanup();

// Flat: V8 grows the heap for the first tens of seconds, so the first half is warm-up; the mean of
// the last quarter is compared with the quarter before it.
const quarter = Math.max(1, Math.floor(rss.length / 4));
const mean = (samples) => samples.reduce((sum, sample) => sum + sample.mb, 0) / samples.length;
const growthMb = rss.length >= 4 ? Math.round((mean(rss.slice(-quarter)) - mean(rss.slice(-2 * quarter, -quarter))) * 10) / 10 : 0;
const errors = result.errors + result.non2xx + adminErrors.length;

console.log(
  `soak: ${clients} clients × ${seconds} s against ${channels} channels, WORKERS=${values.workers}; admin script every ${adminEveryMs} ms; prune every 5 s`,
);
console.log(`requests/s ${Math.round(result.reqPerSec)}  p99 ${result.p99Ms} ms  200s ${ok200}`);
console.log(
  `errors ${errors} (client errors/timeouts ${result.errors}, non-2xx ${result.non2xx}, admin script failures ${adminErrors.length})`,
);
console.log(`admin rounds ${rounds}  pruned ${pruned}  prune failures ${pruneFailures}`);
console.log(`RSS MB over time: ${rss.map((sample) => `${sample.s}s:${sample.mb}`).join(' ')}`);
console.log(`RSS growth over the last half ${growthMb} MB (${growthMb <= 20 ? 'flat' : 'GROWING'})`);
console.log(
  JSON.stringify({
    clients,
    seconds,
    channels,
    workers: Number(values.workers),
    errors,
    p99Ms: result.p99Ms,
    reqPerSec: result.reqPerSec,
    pruned,
    pruneFailures,
    adminRounds: rounds,
    rssMb: rss,
    rssGrowthMb: growthMb,
  }),
);
if (adminErrors.length) console.error(`first admin failure: ${adminErrors[0]}`);
process.exitCode = errors === 0 && growthMb <= 20 ? 0 : 1;
