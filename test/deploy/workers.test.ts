import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LINEUP_BIN } from '../build-once.js';
import { expectAllTokensValid } from '../core/support.js';
import { serveCommandLine } from '../helpers/command-line.js';
import { fetchFrom, lastLine, runCliCaptured, tempDir } from '../helpers/lineup.js';
import { type ServeProcess, serveProcess } from '../helpers/serve-process.js';

const KEY = 'workers-test-key';
/** The public port serves /metrics only with a token. */
const METRICS_TOKEN = 'workers-metrics-token-0123';
const withToken = { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } };
/** The shared cluster's TOKEN_BUCKET, set rather than defaulted, so that the ETag test knows where its boundaries fall. */
const BUCKET_SECONDS = 300;
const temp = tempDir('lineup-workers-');
afterAll(() => temp.cleanup());

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

interface Cluster extends ServeProcess {
  env: NodeJS.ProcessEnv;
  dbPath: string;
}

/**
 * `lineup serve` with WORKERS=2, as an operator runs it, on a free port. Its process joins
 * `owners`: `children` (killed after each test) unless a whole describe block shares it.
 */
async function serveCluster(name: string, extraEnv: NodeJS.ProcessEnv = {}, owners = children): Promise<Cluster> {
  const dbPath = join(temp.dir, `${name}.db`);
  const env = { LINEUP_DB: dbPath, HOST: '127.0.0.1', PORT: '0', SECURETOKEN_KEY: KEY, LOG_LEVEL: 'info', WORKERS: '2', ...extraEnv };
  return { ...(await serveProcess(env, owners)), env, dbPath };
}

/** Three channels and a subscriber, through the CLI, while the cluster runs. */
async function withSubscriber(cluster: Cluster): Promise<string> {
  const script = join(temp.dir, `${Date.now()}-channels.sql`);
  writeFileSync(script, "INSERT INTO channels (stream, name) VALUES ('live/news', 'News'), ('live/sport', 'Sport'), ('kids', 'Kids');");
  expect((await runCliCaptured(['sql', script], cluster.env)).code).toBe(0);
  const added = await runCliCaptured(['subscriber', 'add', 'alice'], cluster.env);
  expect(added.code).toBe(0);
  const { pathname } = new URL(lastLine(added.stdout));
  return `${cluster.url}${pathname}`;
}

/** The worker ids in the request log lines for a path. */
function workersServing(output: string, path: string): Set<number> {
  const lines = output.split('\n').filter((line) => line.includes('"msg":"request"') && line.includes(`"path":"${path}"`));
  return new Set(lines.map((line) => JSON.parse(line).worker as number));
}

/** Child processes of `pid`, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** The TOKEN_BUCKET the shared cluster signs in now: its processes read this machine's clock too. */
const bucketNow = () => Math.floor(Date.now() / 1000 / BUCKET_SECONDS);

/**
 * Runs `requests` again if a bucket boundary fell while they ran: a new bucket rightly signs new
 * tokens under a new ETag, which is not the difference between workers that a test looks for.
 * A second boundary is a bucket away, so the second run fits in one.
 */
async function inOneBucket<T>(requests: () => Promise<T>): Promise<T> {
  for (let run = 0; run < 2; run++) {
    const before = bucketNow();
    const result = await requests();
    if (bucketNow() === before) return result;
  }
  throw new Error('a bucket boundary fell during each of two runs');
}

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('WORKERS=2', () => {
  describe('on one cluster that these tests only read', () => {
    const shared: ChildProcess[] = [];
    let cluster: Cluster;
    let url: string;
    beforeAll(async () => {
      cluster = await serveCluster('shared', { TOKEN_BUCKET: String(BUCKET_SECONDS), METRICS_TOKEN }, shared);
      url = await withSubscriber(cluster);
    });
    afterAll(() => {
      for (const child of shared.splice(0)) child.kill('SIGKILL');
    });

    /** The cluster's output from here on, so that each test looks only at its own requests. */
    const outputFromNow = () => {
      const start = cluster.output().length;
      return () => cluster.output().slice(start);
    };

    it('when clients connect, then two worker processes share the port and every playlist signs for its client', async () => {
      const output = outputFromNow();
      // A new connection each time: the primary hands connections to the workers in turn.
      for (let i = 0; i < 6; i++) {
        const response = await fetchFrom(url);
        expect(response.status).toBe(200);
        // These three only: `lineup serve` seeds no demo.
        expect(expectAllTokensValid(response.body, '127.0.0.1', KEY)).toHaveLength(3);
      }
      await until(() => workersServing(output(), '/playlist/[key]').size === 2, 'both workers to log requests');
      expect(childrenOf(cluster.child.pid!)).toHaveLength(2);
    });

    it('when /metrics is scraped on either worker, then it counts the requests of both', async () => {
      const served = /^lineup_playlist_requests_total\{outcome="200"\} (\d+)$/m;
      // The other tests here count too; the line is absent until a first 200.
      const before = Number(served.exec((await fetchFrom(`${cluster.url}/metrics`, withToken)).body)?.[1] ?? 0);
      const output = outputFromNow();
      for (let i = 0; i < 7; i++) expect((await fetchFrom(url)).status).toBe(200);
      for (let scrape = 0; scrape < 4; scrape++) {
        const metrics = await fetchFrom(`${cluster.url}/metrics`, withToken);
        expect(metrics.status).toBe(200);
        expect(served.exec(metrics.body)?.[1]).toBe(String(before + 7));
      }
      await until(() => workersServing(output(), '/metrics').size === 2, 'both workers to answer a scrape');
    });

    it('when a refresh lands on the other worker within a bucket, then it gets the same bytes and ETag, and a 304 for it', async () => {
      const { first, refreshes, output } = await inOneBucket(async () => {
        const output = outputFromNow();
        const first = await fetchFrom(url);
        const refreshes = [];
        for (let i = 0; i < 3; i++) {
          const again = await fetchFrom(url);
          const revalidated = await fetchFrom(url, { headers: { 'If-None-Match': String(first.headers.etag) } });
          refreshes.push({ again, revalidated });
        }
        return { first, refreshes, output };
      });
      expect(first.status).toBe(200);
      for (const { again, revalidated } of refreshes) {
        expect(again.headers.etag).toBe(first.headers.etag);
        expect(again.body).toBe(first.body);
        expect(revalidated.status).toBe(304);
      }
      await until(() => workersServing(output(), '/playlist/[key]').size === 2, 'both workers to serve the refreshes');
    });
  });

  it('when a worker is killed, then the primary starts another and playlists keep coming', async () => {
    const cluster = await serveCluster('respawn');
    const url = await withSubscriber(cluster);
    const [victim] = childrenOf(cluster.child.pid!);
    process.kill(victim!, 'SIGKILL');
    await until(() => cluster.output().includes('"msg":"worker exited; starting another"'), 'the primary to notice');
    await until(() => childrenOf(cluster.child.pid!).filter((pid) => pid !== victim).length === 2, 'a replacement worker');
    for (let i = 0; i < 4; i++) expect((await fetchFrom(url)).status).toBe(200);
  });

  it('when a lapsed subscriber is due, then the primary prunes it once and no worker runs the job', async () => {
    const cluster = await serveCluster('prune', { PRUNE_CRON: '* * * * * *', PRUNE_GRACE_DAYS: '0' });
    await withSubscriber(cluster);
    const script = join(temp.dir, 'lapse.sql');
    writeFileSync(script, "UPDATE subscribers SET expires_at = datetime('now', '-1 day') WHERE username = 'alice';");
    expect((await runCliCaptured(['sql', script], cluster.env)).code).toBe(0);
    // Whole lines only: the last may still be arriving.
    const pruneRuns = () =>
      cluster
        .output()
        .split('\n')
        .slice(0, -1)
        .filter((line) => line.includes('"job":"prune"'))
        .map((line) => JSON.parse(line));
    // The tick that deletes, then one more that must find nothing left to delete.
    await until(() => {
      const runs = pruneRuns();
      const deleting = runs.findIndex((run) => run.deleted > 0);
      return deleting >= 0 && runs.length > deleting + 1;
    }, 'a prune that deletes and a tick after it');
    const runs = pruneRuns();
    for (const run of runs) expect(run.worker).toBeUndefined();
    expect(runs.reduce((total, run) => total + run.deleted, 0)).toBe(1);
  });

  it('when the cluster gets SIGTERM, then every process stops, it exits 0 and the database is closed', async () => {
    const cluster = await serveCluster('sigterm');
    const url = await withSubscriber(cluster);
    expect((await fetchFrom(url)).status).toBe(200);
    const workers = childrenOf(cluster.child.pid!);
    expect(workers).toHaveLength(2);
    cluster.child.kill('SIGTERM');
    expect(await cluster.exited).toEqual({ code: 0, signal: null });
    for (const pid of workers) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(cluster.output().match(/"msg":"shutting down"/g)).toHaveLength(3);
    const wal = `${cluster.dbPath}-wal`;
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
  });

  it('when Ctrl-C reaches the whole process group, then each of the three processes logs "shutting down" once and it exits 0', async () => {
    const env = {
      LINEUP_DB: join(temp.dir, 'ctrl-c.db'),
      HOST: '127.0.0.1',
      PORT: '0',
      SECURETOKEN_KEY: KEY,
      LOG_LEVEL: 'info',
      WORKERS: '2',
    };
    const cluster = await serveCommandLine(['node', LINEUP_BIN, 'serve'], env, children, { terminal: true });
    await until(() => childrenOf(cluster.child.pid!).length === 2, 'both workers');
    // A terminal's Ctrl-C: SIGINT to every process of the group, the workers included; the
    // primary then sends each worker SIGTERM as it stops them.
    process.kill(-cluster.child.pid!, 'SIGINT');
    expect(await cluster.exited).toEqual({ code: 0, signal: null });
    const shuttingDown = cluster
      .output()
      .split('\n')
      .filter((line) => line.includes('"msg":"shutting down"'))
      .map((line) => (JSON.parse(line) as { worker?: number }).worker ?? 'primary');
    expect(shuttingDown.sort()).toEqual([...new Set(shuttingDown)].sort());
    expect(shuttingDown).toHaveLength(3);
  });

  it('when the port is taken, then serve exits 1 naming the error instead of restarting workers', async () => {
    // Anything holding the port will do; a second cluster would only cost a start.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void holder.close());
    const port = String((holder.address() as { port: number }).port);
    const dbPath = join(temp.dir, 'taken-second.db');
    const child = spawn(process.execPath, [LINEUP_BIN, 'serve'], {
      env: { ...process.env, LINEUP_DB: dbPath, HOST: '127.0.0.1', PORT: port, SECURETOKEN_KEY: KEY, WORKERS: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('EADDRINUSE');
    expect(stderr).toMatch(/exited \(code 1\) before it was listening/);
  });
});
