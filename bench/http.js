// Child processes: the real server (`lineup serve`), the ceiling server and autocannon itself, so
// that the load generator never shares an event loop with what it measures.
import { execFile, fork, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server on a large database (the prune plan's million subscribers) first runs quick_check over it. */
const HEALTH_WAIT_MS = 60_000;

async function waitForHealth(url, child) {
  for (const deadline = Date.now() + HEALTH_WAIT_MS; Date.now() < deadline; ) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('server did not become healthy');
}

/**
 * `node bin/lineup.js serve` on a free loopback port. With `logLines`, its JSON log lines are kept
 * (`lines.seen`) and emitted (`line`) as they come.
 */
export async function startLineupServer(env, { logLines = false } = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/lineup.js', 'serve'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', logLines ? 'pipe' : 'ignore', 'inherit'],
  });
  const lines = Object.assign(new EventEmitter(), { seen: [] });
  if (logLines) {
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        return; // not a log line
      }
      lines.seen.push(line);
      lines.emit('line', line);
    });
  }
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, child);
  return { url, pid: child.pid, lines, stop: () => stopChild(child) };
}

/** ceiling-server.js: `bodyFile`'s bytes, and `gzipFile`'s to a client that asks for gzip. */
export async function startCeilingServer(bodyFile, workers = 1, gzipFile = undefined, contentType = undefined) {
  const child = fork(fileURLToPath(new URL('./ceiling-server.js', import.meta.url)), gzipFile ? [bodyFile, gzipFile] : [bodyFile], {
    stdio: 'inherit',
    env: { ...process.env, CEILING_WORKERS: String(workers), ...(contentType ? { CEILING_TYPE: contentType } : {}) },
  });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child) };
}

/** bare-redirect-server.js: koa answering every `/live/…` with a 302 to `location`. */
export async function startBareRedirectServer(location) {
  const child = fork(fileURLToPath(new URL('./bare-redirect-server.js', import.meta.url)), [location], { stdio: 'inherit' });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child) };
}

function stopChild(child) {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** autocannon's CLI in its own process; returns req/s, p99 latency and how many answers were not 2xx. */
export async function loadTest(url, { seconds, connections, headers = {}, method, body }) {
  const args = ['-c', String(connections), '-d', String(seconds), '-j'];
  // `[<id>]` in a body becomes a fresh id per request (autocannon -I): a new username for each create.
  if (method) args.push('-m', method);
  if (body) args.push('-b', body, '-I');
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}=${value}`);
  const { stdout } = await run(`${root}node_modules/.bin/autocannon`, [...args, url], { maxBuffer: 1 << 24 });
  const result = JSON.parse(stdout);
  return {
    reqPerSec: result.requests.average,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    bytesPerReq: result.requests.total ? Math.round(result.throughput.total / result.requests.total) : 0,
    errors: result.errors + result.timeouts,
  };
}

/** CPU time a process has used so far, in seconds: utime and stime from /proc (Linux, 100 ticks a second). */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** Resident set size of a process, from /proc (Linux). */
export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** RSS of a process and its children (WORKERS), added up; the peak is the sum of each one's peak. */
export function treeRssMb(pid) {
  const children = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    });
  return [pid, ...children.map(Number)].reduce(
    (total, one) => {
      try {
        const { rss, peak } = rssMb(one);
        return { rss: total.rss + rss, peak: total.peak + peak };
      } catch {
        return total; // exited meanwhile
      }
    },
    { rss: 0, peak: 0 },
  );
}
