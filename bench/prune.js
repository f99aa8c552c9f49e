// The prune plan: `lineup prune` of 200,000 lapsed subscribers out of 1,000,000 while a fleet of
// boxes fetches playlists at a steady rate. Playlist latency is taken before, during and after the
// prune; the spike is the slowest response in flight at one of the prune's commits (seen by
// bench/commit-watch.js), and the slowest one of the whole prune and the second after is given too;
// the WAL is measured once the prune has exited, with the server still holding the database open.
// `npm run bench:prune [-- --runs 3 --rate 100 --seconds 10]`; `npm run bench` runs it once.
// `--in-server` measures the other shape instead: the server's own job (PRUNE_CRON, set to one
// slot after the warm-up and the time before), which operators get by default; the prune's
// start is that slot and its end the job's log line, and its CPU and bytes are the server's.
// Building the 1M-subscriber database takes about a minute; each run copies it.
import { fork } from 'node:child_process';
import { hash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SubscriberStore } from '../dist/db/subscriber-store.js';
import { CHANGE_LOG_KEPT } from '../dist/subscribers/prune.js';
import { benchKey, createFixture, SECURETOKEN_KEY } from './fixture.js';
import { startLineupServer } from './http.js';
import { round } from './stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SUBSCRIBERS = 1_000_000;
/** One in five has lapsed long past the grace period: 200,000. */
const LAPSED_EVERY = 5;
/** Distinct boxes fetching, each once per bucket at most: the fleet's shape, where almost every request is a miss. */
const FLEET = 10_000;

/** 1,000 channels; every subscriber has a key and one package, as an operator's would. */
export function createPruneFixture() {
  const fixture = createFixture({ channels: 1000, subscribers: 0 });
  const db = new Database(fixture.dbPath);
  db.function('bench_key_hash', (i) => hash('sha256', benchKey(i)));
  db.transaction(() => {
    const packageId = db.prepare("INSERT INTO packages (name) VALUES ('basic')").run().lastInsertRowid;
    db.prepare(`
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
      INSERT INTO subscribers (id, username, key_hash, expires_at)
      SELECT i + 1, 'user' || i, bench_key_hash(i),
             CASE WHEN i % ? = 0 THEN datetime('now', '-60 days') ELSE datetime('now', '+30 days') END
      FROM n`).run(SUBSCRIBERS, LAPSED_EVERY);
    db.prepare('INSERT INTO subscriber_packages (subscriber_id, package_id) SELECT id, ? FROM subscribers').run(packageId);
  }).immediate();
  // Building wrote a change-log row per insert (2,000,000); a server that has run for ten minutes
  // has trimmed them to the last CHANGE_LOG_KEPT, so the plan's "before" measures that steady state,
  // not the server's start-up trim of the builder's rows.
  new SubscriberStore(db, { days: 30, clock: () => Date.now() / 1000 }).trimChangeLog(CHANGE_LOG_KEPT);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return fixture;
}

/** An active subscriber's key: never one the prune takes. */
const activeKey = (n) => {
  const i = n % FLEET;
  return benchKey(i + Math.floor(i / (LAPSED_EVERY - 1)) + 1);
};

const percentile = (samples, p) => {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
};

const HEADER_END = [13, 10, 13, 10];
const MAX_SOCKETS = 64;

/**
 * Keep-alive GETs whose responses are read into one reused buffer (net's `onread`), so that the
 * client allocates nothing per body. Node's http client allocates every body chunk: at 100
 * playlists of 312 kB a second the bench's own process ran a major GC every half second, and each
 * of the eight slowest responses of a traced run had started within 2 ms of one of those pauses
 * (docs/performance.md): the plan timed its client, not the server. `get(path, done)` calls
 * `done(status)` once the whole body is in, or `done(undefined, code)` when the connection failed.
 */
function reusedBufferClient(url) {
  const { hostname, port } = new URL(url);
  const readBuffer = Buffer.allocUnsafe(1 << 16);
  const idle = [];
  const waiting = [];
  let open = 0;

  const openConnection = () => {
    const state = { request: undefined, header: Buffer.allocUnsafe(4096), headerLength: 0, matched: 0, remaining: -1, status: 0 };
    const finish = (status, code) => {
      const { done } = state.request;
      state.request = undefined;
      done(status, code);
    };
    const onread = (nread, buffer) => {
      let offset = 0;
      while (offset < nread && state.request) {
        if (state.remaining < 0) {
          for (; offset < nread && state.remaining < 0; offset++) {
            const byte = buffer[offset];
            if (state.headerLength < state.header.length) state.header[state.headerLength++] = byte;
            state.matched = byte === HEADER_END[state.matched] ? state.matched + 1 : byte === 13 ? 1 : 0;
            if (state.matched === 4) {
              const head = state.header.latin1Slice(0, state.headerLength);
              state.status = Number(head.slice(9, 12));
              const length = /\r\ncontent-length: *(\d+)/i.exec(head);
              state.remaining = length ? Number(length[1]) : 0;
              if (!length && state.status !== 304) state.status = `no content-length (${state.status})`;
            }
          }
        }
        if (state.remaining >= 0) {
          const taken = Math.min(state.remaining, nread - offset);
          state.remaining -= taken;
          offset += taken;
          if (state.remaining === 0) {
            state.remaining = -1;
            state.headerLength = 0;
            state.matched = 0;
            finish(state.status);
            release(socket, state);
          }
        }
      }
    };
    const socket = netConnect({ host: hostname, port: Number(port), onread: { buffer: readBuffer, callback: onread } });
    socket.on('error', (error) => {
      if (state.request) finish(undefined, error.code ?? 'error');
    });
    socket.on('close', () => {
      open--;
      const at = idle.findIndex((entry) => entry.socket === socket);
      if (at >= 0) idle.splice(at, 1);
      if (state.request) finish(undefined, 'closed');
      if (waiting.length > 0) send(waiting.shift());
    });
    open++;
    return { socket, state };
  };
  const release = (socket, state) => {
    if (waiting.length > 0) write({ socket, state }, waiting.shift());
    else idle.push({ socket, state });
  };
  const write = (connection, request) => {
    connection.state.request = request;
    connection.socket.write(`GET ${request.path} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
  };
  const send = (request) => {
    const connection = idle.pop() ?? (open < MAX_SOCKETS ? openConnection() : undefined);
    if (connection) write(connection, request);
    else waiting.push(request);
  };
  return {
    get: (path, done) => send({ path, done }),
    destroy: () => {
      for (const { socket } of idle) socket.destroy();
    },
  };
}

/** Requests at a steady rate (open loop: a slow answer does not slow the next request down). */
function startFleet(url, rate) {
  const client = reusedBufferClient(url);
  const samples = [];
  let n = 0;
  /** By status code, or by error code when there was no response. */
  const errors = {};
  const failed = (kind) => {
    errors[kind] = (errors[kind] ?? 0) + 1;
  };
  const fire = () => {
    const started = performance.now();
    client.get(`/playlist/${activeKey(n++)}.m3u`, (status, code) => {
      if (status === undefined) return failed(code);
      if (status !== 200) failed(status);
      samples.push({ started, ms: performance.now() - started });
    });
  };
  const timer = setInterval(fire, 1000 / rate);
  return {
    samples,
    errors: () => errors,
    stop: async () => {
      clearInterval(timer);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      client.destroy();
    },
  };
}

const TIME_MARK = 'lineup-bench-time';

/**
 * A response counts as held up by a commit if it was in flight from this long before the commit
 * was seen (the watcher looks every 5 ms, and the commit's own writes come before it) to this long
 * after it (a server reads a chunk's changes at its next request, in 1–4 ms).
 */
const COMMIT_BEFORE_MS = 50;
const COMMIT_AFTER_MS = 50;

/** bench/commit-watch.js, once it watches `dbPath`; `stop()` resolves with the commits it saw. */
async function commitWatch(dbPath) {
  const watcher = fork(join(root, 'bench', 'commit-watch.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve, reject) => {
    watcher.once('error', reject);
    watcher.once('message', resolve);
    watcher.send({ dbPath });
  });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        watcher.once('error', reject);
        watcher.once('message', resolve);
        watcher.send('stop');
      }),
    kill: () => watcher.kill(),
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A launcher process (bench/prune-launcher.js), started before the fleet is: its `run(env)` is
 * `lineup prune`, as an operator runs it, and resolves with its wall time, output lines and exit
 * code. The launcher spawns it, so that the fleet's client never blocks in spawn().
 */
function pruneLauncher() {
  const launcher = fork(join(root, 'bench', 'prune-launcher.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    run: (env) =>
      new Promise((resolve, reject) => {
        launcher.once('error', reject);
        launcher.once('message', ({ code, lines, stderr }) => {
          const ended = performance.now();
          const [user, system, outputs] = (new RegExp(`${TIME_MARK} (\\S+) (\\S+) (\\S+)`).exec(stderr) ?? []).slice(1).map(Number);
          resolve({ code, lines, stderr, started, ended, cpuSeconds: user + system, writtenMb: (outputs * 512) / 1024 / 1024 });
        });
        const started = performance.now();
        // GNU time reports the prune's own CPU and writes, which the machine's load does not inflate the way it does wall time.
        launcher.send({
          command: '/usr/bin/time',
          args: ['-f', `${TIME_MARK} %U %S %O`, process.execPath, 'bin/lineup.js', 'prune', '--confirm-clock'],
          cwd: root,
          env: { ...process.env, ...env },
        });
      }),
    stop: () => launcher.kill(),
  };
}

function countSubscribers(dbPath) {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM subscribers').pluck().get();
  } finally {
    db.close();
  }
}

const walBytes = (dbPath) => (existsSync(`${dbPath}-wal`) ? statSync(`${dbPath}-wal`).size : 0);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Seconds from the server's start to its prune slot: its start (a quick_check of the 1M database), the warm-up, and some room. */
const SLOT_LEAD_SECONDS = 30;

/** A PRUNE_CRON expression (seconds field first, UTC) for the one slot at `at` (ms since the epoch, a whole second). */
const cronAt = (at) => {
  const date = new Date(at);
  return `${date.getUTCSeconds()} ${date.getUTCMinutes()} ${date.getUTCHours()} ${date.getUTCDate()} ${date.getUTCMonth() + 1} *`;
};

/** utime + stime of `pid` in seconds, and the bytes it has written to storage. */
function processUsage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100, writtenBytes: Number(/write_bytes: (\d+)/.exec(io)[1]) };
}

/** The server's own job, from its slot to the log line that says it finished; the same fields as runPrune. */
async function awaitServerPrune(server, slotAt) {
  const finished = new Promise((resolve) => {
    // Finished, failed or refused: each is one line of the job's.
    const check = (line) => {
      if (line.job === 'prune' && /^prune (finished|failed|refused)/.test(line.msg)) resolve(line);
    };
    for (const line of server.lines.seen) check(line);
    server.lines.on('line', check);
  });
  await sleep(slotAt - Date.now());
  const started = performance.now();
  const usage = processUsage(server.pid);
  const line = await finished;
  const ended = performance.now();
  const after = processUsage(server.pid);
  const ok = line.msg.startsWith('prune finished');
  return {
    code: ok ? 0 : 1,
    stderr: ok ? '' : JSON.stringify(line),
    lines: 1,
    started,
    ended,
    cpuSeconds: after.cpuSeconds - usage.cpuSeconds,
    writtenMb: (after.writtenBytes - usage.writtenBytes) / 1024 / 1024,
  };
}

/** One run on a fresh copy of the database. */
export async function runPrunePlan(templatePath, { rate = 100, seconds = 10, inServer = false } = {}) {
  const dbPath = join(templatePath, '..', 'run.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  copyFileSync(templatePath, dbPath);
  const slotAt = Math.ceil(Date.now() / 1000 + SLOT_LEAD_SECONDS + seconds) * 1000;
  const env = { LINEUP_DB: dbPath, SECURETOKEN_KEY, ORIGIN_URL: 'http://flussonic.example.net', PRUNE_CRON: 'off', LOG_LEVEL: 'warn' };
  // The job's safety rules allow what `--confirm-clock` allows the command: a fifth of the subscribers at once.
  const serverEnv = inServer ? { ...env, PRUNE_CRON: cronAt(slotAt), PRUNE_MAX_SHARE: '100', LOG_LEVEL: 'info' } : env;
  const server = await startLineupServer(serverEnv, { logLines: inServer });
  const launcher = inServer ? undefined : pruneLauncher();
  // Before the fleet, as the launcher: forking blocks this process's event loop, the fleet's client.
  const watch = await commitWatch(dbPath);
  try {
    // Warm-up: the server's first seconds compile code and fill caches.
    const warm = startFleet(server.url, rate);
    await sleep(3000);
    await warm.stop();
    if (inServer) {
      if (Date.now() > slotAt - seconds * 1000) throw new Error('the server took too long to start: its prune slot is too close');
      await sleep(slotAt - seconds * 1000 - Date.now());
    }
    const fleet = startFleet(server.url, rate);
    const beforeStart = performance.now();
    if (!inServer) await sleep(seconds * 1000);
    const loadBefore = loadavg();
    const prune = inServer ? await awaitServerPrune(server, slotAt) : await launcher.run(env);
    const commits = (await watch.stop()).map((at) => at - performance.timeOrigin).filter((at) => at >= prune.started);
    if (prune.code !== 0) throw new Error(`prune exited ${prune.code}: ${prune.stderr}`);
    const wal = walBytes(dbPath);
    await sleep(seconds * 1000);
    const afterEnd = performance.now();
    await fleet.stop();
    const loadAfter = loadavg();
    const phase = (from, to) => fleet.samples.filter((sample) => sample.started >= from && sample.started < to).map((sample) => sample.ms);
    const before = phase(beforeStart, prune.started);
    const during = phase(prune.started, prune.ended);
    const after = phase(prune.ended + 1000, afterEnd);
    const around = fleet.samples.filter((sample) => sample.started >= prune.started && sample.started < prune.ended + 1000);
    const slowest = around.reduce((worst, sample) => (sample.ms > worst.ms ? sample : worst), { ms: 0, started: prune.started });
    // The responses a commit could have held up: in flight from just before it to just after it.
    const nearCommit = (sample) =>
      commits.some((at) => sample.started <= at + COMMIT_AFTER_MS && sample.started + sample.ms >= at - COMMIT_BEFORE_MS);
    const commitSpike = around.filter(nearCommit).reduce((worst, sample) => Math.max(worst, sample.ms), 0);
    const p99Before = percentile(before, 0.99);
    return {
      pruneSeconds: round((prune.ended - prune.started) / 1000, 1),
      pruneCpuSeconds: round(prune.cpuSeconds, 1),
      pruneWrittenMb: Math.round(prune.writtenMb),
      pruneOutputLines: prune.lines,
      requests: fleet.samples.length,
      errors: fleet.errors(),
      p99BeforeMs: round(p99Before, 1),
      p99DuringMs: round(percentile(during, 0.99), 1),
      p99AfterMs: round(percentile(after, 0.99), 1),
      medianDuringMs: round(percentile(during, 0.5), 1),
      commits: commits.length,
      /** The slowest response in flight at one of the prune's commits: the target's "commit spike". */
      commitSpikeMs: round(commitSpike, 1),
      commitSpikeRatio: round(commitSpike / p99Before, 2),
      /** The slowest response of the whole prune and the second after it, near a commit or not. */
      slowestMs: round(slowest.ms, 1),
      /** When it started, in seconds from the prune's start: the end, or its course? */
      slowestAtSeconds: round((slowest.started - prune.started) / 1000, 1),
      slowestRatio: round(slowest.ms / p99Before, 2),
      duringRatio: round(percentile(during, 0.99) / p99Before, 2),
      walMbAfter: round(wal / 1024 / 1024, 1),
      remaining: countSubscribers(dbPath),
      loadavg: [loadBefore, loadAfter],
    };
  } finally {
    launcher?.stop();
    watch.kill();
    await server.stop();
  }
}

/** Builds the database once, then runs the plan `runs` times on copies of it. */
export async function prunePlan({ runs = 1, rate = 100, seconds = 10, inServer = false } = {}) {
  const fixture = createPruneFixture();
  try {
    const results = [];
    for (let run = 0; run < runs; run++) results.push(await runPrunePlan(fixture.dbPath, { rate, seconds, inServer }));
    return results;
  } finally {
    fixture.cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '1' },
      rate: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '10' },
      'in-server': { type: 'boolean', default: false },
    },
  });
  const results = await prunePlan({
    runs: Number(values.runs),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    inServer: values['in-server'],
  });
  for (const result of results) console.log(JSON.stringify(result));
}
