import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LINEUP_BIN } from '../build-once.js';
import { fetchFrom, tempDir } from '../helpers/lineup.js';

interface Served {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const temp = tempDir('lineup-shutdown-');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** `lineup serve` as an operator runs it, in its own process, on a free port. */
async function serve(dbName: string): Promise<Served> {
  const child = spawn(process.execPath, [LINEUP_BIN, 'serve'], {
    env: { ...process.env, LINEUP_DB: join(temp.dir, dbName), HOST: '127.0.0.1', PORT: '0', SECURETOKEN_KEY: 'k', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const listening = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (listening) {
        clearInterval(poll);
        resolve(listening[1]!);
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(poll);
      reject(new Error(`serve exited before listening:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited };
}

describe('graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`when the server gets ${signal} with a keep-alive connection open, then it stops, exits 0 and closes the database`, async () => {
      const served = await serve(`${signal}.db`);
      expect((await fetchFrom(`${served.url}/healthz`)).status).toBe(200);

      // A keep-alive client that stays connected must not hold the shutdown up.
      const agentDone = new Promise<void>((resolve) => {
        const req = request(`${served.url}/healthz`, { headers: { Connection: 'keep-alive' } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.end();
      });
      await agentDone;

      served.child.kill(signal);
      expect(await served.exited).toEqual({ code: 0, signal: null });
      expect(served.output()).toContain('"msg":"shutting down"');
      expect(served.output()).toContain('"msg":"stopped"');
      // better-sqlite3 checkpoints and removes the WAL when the last connection closes cleanly.
      const wal = join(temp.dir, `${signal}.db-wal`);
      expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
    });
  }

  it('when requests are in flight at SIGTERM, then every request the server answered arrives whole', async () => {
    const served = await serve('inflight.db');
    const received: { status: number; body: string }[] = [];
    let stopped = false;
    // Ten clients request back to back until the server goes away, so that SIGTERM lands mid-traffic.
    const client = async () => {
      while (!stopped) {
        try {
          received.push(await fetchFrom(`${served.url}/healthz`));
        } catch {
          stopped = true; // refused or reset at connect: the server has stopped listening
        }
      }
    };
    const clients = Promise.all(Array.from({ length: 10 }, client));
    while (received.length < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    served.child.kill('SIGTERM');
    await clients;
    expect(await served.exited).toEqual({ code: 0, signal: null });

    for (const { status, body } of received) {
      expect(status).toBe(200);
      expect(JSON.parse(body)).toEqual({ status: 'ok', database: 'ok' });
    }
    // What the server answered (its log says so) is exactly what arrived whole.
    const answered = served.output().split('\n').filter((line) => line.includes('"path":"/healthz"') && line.includes('"status":200'));
    expect(received.length).toBe(answered.length);
  });
});
