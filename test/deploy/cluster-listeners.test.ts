import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINEUP_BIN } from '../build-once.js';
import { expectAllTokensValid } from '../core/support.js';
import { fetchFrom, lastLine, runCliCaptured, tempDir } from '../helpers/lineup.js';

const KEY = 'cluster-listeners-key';
const temp = tempDir('lineup-cluster-listeners-');

interface Started {
  child: ChildProcess;
  /** From the "lineup listening" line. */
  url: string;
  /** From the first worker's "admin listener" line. */
  adminUrl: string;
  output(): string;
}

/** `lineup serve` as an operator runs it; resolves once both listeners are logged, or rejects with the output. */
function serve(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, [LINEUP_BIN, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const url = /"url":"([^"]+)"[^\n]*"msg":"lineup listening"/.exec(output)?.[1];
      const adminUrl = /"url":"([^"]+)"[^\n]*"msg":"admin listener/.exec(output)?.[1];
      if (url && adminUrl) {
        clearInterval(poll);
        resolve({ child, url, adminUrl, output: () => output });
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(poll);
      reject(new Error(`serve exited before listening:\n${output}`));
    });
  });
}

/** The value of one sample line, e.g. `lineup_subscribers{state="active"}`. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

// Issue 15, Why 10 and 11, with WORKERS=2: the workers share the dual-stack port and the admin port.
describe('WORKERS=2 with HOST unset and an admin listener', () => {
  let cluster: Started;
  let env: NodeJS.ProcessEnv;
  let port = '';
  let playlistPath = '';
  beforeAll(async () => {
    const dbPath = join(temp.dir, 'lineup.db');
    // Empty counts as unset: HOST takes its default.
    env = { LINEUP_DB: dbPath, HOST: '', PORT: '0', ADMIN_PORT: '0', SECURETOKEN_KEY: KEY, LOG_LEVEL: 'info', WORKERS: '2' };
    cluster = await serve(env);
    port = new URL(cluster.url).port;
    const db = new Database(dbPath);
    db.exec("INSERT INTO channels (stream, name) VALUES ('dual/news', 'Dual News'), ('dual/sport', 'Dual Sport')");
    db.close();
    const added = await runCliCaptured(['subscriber', 'add', 'alice'], env);
    expect(added.code).toBe(0);
    playlistPath = new URL(lastLine(added.stdout)).pathname;
  });
  afterAll(() => {
    cluster?.child.kill('SIGKILL');
    temp.cleanup();
  });

  it('when the workers listen, then /healthz answers over [::1] and over 127.0.0.1', async (ctx) => {
    if (new URL(cluster.url).hostname !== '[::]') ctx.skip(`IPv6 is unavailable here: listening on ${cluster.url}`);
    // A new connection each time: the primary deals them to the workers in turn.
    for (let i = 0; i < 4; i++) {
      expect((await fetchFrom(`http://[::1]:${port}/healthz`)).status).toBe(200);
      expect((await fetchFrom(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    }
  });

  it('when an IPv4 client fetches its playlist, then every worker signs for the plain IPv4 address', async () => {
    for (let i = 0; i < 4; i++) {
      const { status, body } = await fetchFrom(`http://127.0.0.1:${port}${playlistPath}`);
      expect(status).toBe(200);
      expectAllTokensValid(body, '127.0.0.1', KEY);
    }
  });

  it('when /metrics is asked on the public port without METRICS_TOKEN, then every worker answers 404', async () => {
    for (let i = 0; i < 4; i++) expect((await fetchFrom(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
  });

  it('when the admin listener is scraped, then each worker answers for the cluster, and the subscriber gauge is counted once, not per worker', async () => {
    expect(new URL(cluster.adminUrl).hostname).toBe('127.0.0.1');
    const db = new Database(env.LINEUP_DB!, { readonly: true });
    const active = db.prepare("SELECT count(*) FROM subscribers WHERE enabled = 1 AND expires_at > datetime('now')").pluck().get();
    db.close();
    expect(active).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 4; i++) {
      const scrape = await fetchFrom(`${cluster.adminUrl}/metrics`);
      expect(scrape.status).toBe(200);
      expect(sample(scrape.body, 'lineup_subscribers{state="active"}')).toBe(active);
      expect(sample(scrape.body, 'lineup_subscribers{state="disabled"}')).toBe(0);
    }
    // Both workers bound the one admin port.
    expect(cluster.output().match(/"msg":"admin listener/g)).toHaveLength(2);
  });
});

describe('WORKERS=2 with ADMIN_PORT taken by another program', () => {
  it('when a worker cannot open the admin listener, then lineup serve exits with the reason and never says it listens', async () => {
    // A worker opens its admin listener after its public one. A primary that took the first
    // 'listening' event for ready said "lineup listening", then started worker after worker for
    // ever as each died on the admin port.
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port: adminPort } = squatter.address() as AddressInfo;
    try {
      const env = {
        ...process.env,
        LINEUP_DB: join(temp.dir, 'taken.db'),
        HOST: '127.0.0.1',
        PORT: '0',
        ADMIN_HOST: '127.0.0.1',
        ADMIN_PORT: String(adminPort),
        SECURETOKEN_KEY: KEY,
        LOG_LEVEL: 'info',
        WORKERS: '2',
      };
      const child = spawn(process.execPath, [LINEUP_BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (chunk) => (output += chunk));
      child.stderr!.on('data', (chunk) => (output += chunk));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
      clearTimeout(killer);
      expect({ code, signal }, output).toEqual({ code: 1, signal: null });
      expect(output).not.toMatch(/"msg":"lineup listening"/);
      expect(output).not.toMatch(/starting another/);
      expect(output).toMatch(new RegExp(`^lineup: .*EADDRINUSE.* 127\\.0\\.0\\.1:${adminPort}$`, 'm'));
      expect(output.trimEnd().split('\n').at(-1)).toMatch(/^lineup: worker \d exited \(code 1\) before it was listening$/);
    } finally {
      squatter.close();
    }
  }, 30_000);
});
