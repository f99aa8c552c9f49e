import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LINEUP_BIN } from '../build-once.js';
import { lastLine, runCliCaptured, tempDir } from '../helpers/lineup.js';

const temp = tempDir('lineup-cluster-renew-');
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  temp.cleanup();
});

/** `lineup serve` with WORKERS=2: two processes, two connections to one database, one admin port. */
function serveCluster(env: NodeJS.ProcessEnv): Promise<string> {
  child = spawn(process.execPath, [LINEUP_BIN, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const admins = [...output.matchAll(/"url":"([^"]+)"[^\n]*"msg":"admin listener/g)];
      if (admins.length === 2) {
        clearInterval(poll);
        resolve(admins[0]![1]!);
      }
    }, 20);
    child!.on('exit', () => {
      clearInterval(poll);
      reject(new Error(`serve exited before listening:\n${output}`));
    });
  });
}

/** A request on a connection of its own, so that the cluster's primary deals each to the next worker. */
function post(
  url: string,
  token: string,
  body: unknown,
): Promise<{ status: number; json: { expires_at: string; subscriber: { expires_at: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('admin API under WORKERS=2', () => {
  it('when two workers renew one line at once, then every renewal counts', async () => {
    const env = {
      LINEUP_DB: join(temp.dir, 'lineup.db'),
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_PORT: '0',
      WORKERS: '2',
      SECURETOKEN_KEY: 'k',
    };
    const adminUrl = await serveCluster(env);
    const token = lastLine((await runCliCaptured(['api-token', 'add', 'billing'], env)).stdout);
    const created = await post(`${adminUrl}/api/v1/subscribers`, token, { username: 'busy', days: 30 });
    expect(created.status).toBe(201);
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => post(`${adminUrl}/api/v1/subscribers/busy/renew`, token, { days: 1 })),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(200));
    const last = answers
      .map((answer) => answer.json.expires_at as string)
      .sort()
      .at(-1)!;
    expect((Date.parse(last) - Date.parse(created.json.subscriber.expires_at)) / 86_400_000).toBe(30);
  }, 120_000);
});
