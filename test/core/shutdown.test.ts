import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchFrom, tempDir } from '../helpers/lineup.js';
import { type ServeProcess, serveProcess } from '../helpers/serve-process.js';

const temp = tempDir('lineup-shutdown-');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function serve(dbName: string): Promise<ServeProcess> {
  return serveProcess(
    { LINEUP_DB: join(temp.dir, dbName), HOST: '127.0.0.1', PORT: '0', SECURETOKEN_KEY: 'k', LOG_LEVEL: 'info' },
    children,
  );
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
    const answered = served
      .output()
      .split('\n')
      .filter((line) => line.includes('"path":"/healthz"') && line.includes('"status":200'));
    expect(received.length).toBe(answered.length);
  });
});
