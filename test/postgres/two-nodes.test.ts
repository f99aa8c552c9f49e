import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migratePostgresDatabase } from '../../src/db/pg/open.js';
import { type RunningNode, startPostgresNode } from '../../src/postgres-node.js';
import { generatePlaylistKey, hashPlaylistKey } from '../../src/subscribers/keys.js';
import { freePorts } from '../e2e/harness/ports.js';
import { lineupProcess } from '../helpers/command-line.js';
import { captureLogs, fetchFrom } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, postgresNodeEnv } from '../helpers/postgres.js';
import { serveProcess } from '../helpers/serve-process.js';

/** How often a node is asked while waiting for it to see a change, and how long it may take. */
const POLL_MS = 5;
const DEADLINE_MS = 500;

function nodeEnv(url: string): NodeJS.ProcessEnv {
  return postgresNodeEnv(url, { TOKEN_BUCKET: '300' });
}

/** Polls `node`'s answer to `path` every 5 ms until `until` holds; the milliseconds it took, or a failure past 500 ms. */
async function waitForAnswer(node: RunningNode, path: string, until: (status: number, body: string) => boolean): Promise<number> {
  const started = performance.now();
  for (;;) {
    const { status, body } = await fetchFrom(node.url + path);
    const waited = performance.now() - started;
    if (until(status, body)) return waited;
    if (waited > DEADLINE_MS) throw new Error(`${path} still answered ${status} after ${Math.round(waited)} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

describePostgres('two Lineup nodes on one PostgreSQL database', () => {
  let url: string;
  let admin: pg.Client;
  let nodeA: RunningNode;
  let nodeB: RunningNode;
  const keys = new Map<string, string>();

  async function addSubscriber(username: string, packages: string[] = []): Promise<string> {
    const key = generatePlaylistKey();
    const { rows } = await admin.query<{ id: number }>(
      "INSERT INTO subscribers (username, key_hash, expires_at) VALUES ($1, $2, '2099-01-01 00:00:00') RETURNING id",
      [username, hashPlaylistKey(key)],
    );
    for (const name of packages) {
      await admin.query('INSERT INTO subscriber_packages (subscriber_id, package_id) SELECT $1, id FROM packages WHERE name = $2', [
        rows[0]!.id,
        name,
      ]);
    }
    keys.set(username, key);
    return key;
  }

  const playlistPath = (username: string) => `/playlist/${keys.get(username)}.m3u`;

  beforeAll(async () => {
    url = await freshDatabase();
    await migratePostgresDatabase(url);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`
      INSERT INTO channels (stream, name, number) VALUES ('news', 'News', 1), ('sport', 'Sport', 2);
      INSERT INTO packages (name) VALUES ('sports');
      INSERT INTO package_channels (package_id, channel_id) SELECT p.id, c.id FROM packages p, channels c WHERE p.name = 'sports' AND c.stream = 'sport';`);
    for (const username of ['alice', 'bob', 'carol', 'dave']) await addSubscriber(username, ['sports']);
    const { logger } = captureLogs();
    [nodeA, nodeB] = await Promise.all([
      startPostgresNode(loadConfig(nodeEnv(url)), { logger }),
      startPostgresNode(loadConfig(nodeEnv(url)), { logger }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await admin?.end();
  });

  describe('when the operator disables alice with the CLI against the database', () => {
    it('then the other node answers 403 within 500 ms', async () => {
      // Node B has served alice once, so she is remembered there.
      expect((await fetchFrom(nodeB.url + playlistPath('alice'))).status).toBe(200);
      expect((await fetchFrom(nodeB.url + playlistPath('alice'))).status).toBe(200);
      const disabled = await lineupProcess(['subscriber', 'disable', 'alice'], nodeEnv(url));
      expect(disabled.stderr).toBe('');
      expect(disabled.code).toBe(0);
      const waited = await waitForAnswer(nodeB, playlistPath('alice'), (status) => status === 403);
      console.log(`node B refused alice ${waited.toFixed(1)} ms after lineup subscriber disable returned`);
      expect((await fetchFrom(nodeA.url + playlistPath('alice'))).status).toBe(403);
    });
  });

  describe('when psql disables bob outside Lineup', () => {
    it('then both nodes answer 403 within 500 ms', async () => {
      for (const node of [nodeA, nodeB]) expect((await fetchFrom(node.url + playlistPath('bob'))).status).toBe(200);
      await admin.query("UPDATE subscribers SET enabled = 0 WHERE username = 'bob'");
      const waited = await Promise.all([nodeA, nodeB].map((node) => waitForAnswer(node, playlistPath('bob'), (status) => status === 403)));
      console.log(`nodes refused bob ${waited.map((ms) => ms.toFixed(1)).join(' and ')} ms after the UPDATE committed`);
    });
  });

  describe("when carol's package is taken away", () => {
    it("then the other node's next playlist no longer lists its channel", async () => {
      const before = await fetchFrom(nodeB.url + playlistPath('carol'));
      expect(before.body).toContain('Sport');
      await admin.query("DELETE FROM subscriber_packages WHERE subscriber_id = (SELECT id FROM subscribers WHERE username = 'carol')");
      await waitForAnswer(nodeB, playlistPath('carol'), (status, body) => status === 200 && !body.includes('Sport'));
    });
  });

  describe("when dave's key is rotated by hand", () => {
    it('then the other node refuses the old key as replaced and serves the new one', async () => {
      const oldPath = playlistPath('dave');
      expect((await fetchFrom(nodeB.url + oldPath)).status).toBe(200);
      const newKey = generatePlaylistKey();
      await admin.query("UPDATE subscribers SET key_hash = $1 WHERE username = 'dave'", [hashPlaylistKey(newKey)]);
      await waitForAnswer(nodeB, oldPath, (status, body) => status === 403 && body.includes('replaced'));
      expect((await fetchFrom(`${nodeB.url}/playlist/${newKey}.m3u`)).status).toBe(200);
    });
  });

  describe('when a channel is added', () => {
    it("then the other node's next playlists list it", async () => {
      await addSubscriber('erin');
      expect((await fetchFrom(nodeB.url + playlistPath('erin'))).body).not.toContain('Weather');
      await admin.query("INSERT INTO channels (stream, name, number) VALUES ('weather', 'Weather', 3)");
      await waitForAnswer(nodeB, playlistPath('erin'), (status, body) => status === 200 && body.includes('Weather'));
    });
  });

  describe('when a refresh carries the ETag the other node gave', () => {
    it('then it is answered 304', async () => {
      await addSubscriber('frank');
      // fetchFrom, not fetch: the Fetch standard turns a request with If-None-Match into no-cache.
      const first = await fetchFrom(`${nodeA.url}${playlistPath('frank')}`);
      const etag = first.headers.etag as string;
      expect(first.status).toBe(200);
      expect(etag).toMatch(/^"/);
      const refresh = await fetchFrom(`${nodeB.url}${playlistPath('frank')}`, { headers: { 'If-None-Match': etag } });
      expect(refresh.status).toBe(304);
    });
  });

  describe('when /healthz is asked', () => {
    it('then it says the database answers and the change feed is live', async () => {
      const { status, body } = await fetchFrom(`${nodeB.url}/healthz`);
      expect(status).toBe(200);
      expect(JSON.parse(body)).toMatchObject({ status: 'ok', database: 'ok', feed: 'live' });
    });
  });
});

describePostgres('lineup serve on a PostgreSQL LINEUP_DB', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it('when started as an operator runs it, then it serves, logs the URL without its password, and stops on SIGTERM', async () => {
    const url = new URL(await freshDatabase());
    url.password = 'hunter2-secret';
    const served = await serveProcess({ ...nodeEnv(url.toString()), LOG_LEVEL: 'info' }, children);
    const { status, body } = await fetchFrom(`${served.url}/healthz`);
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ database: 'ok', feed: 'live' });
    expect(served.output()).toContain('"msg":"lineup listening"');
    served.child.kill('SIGTERM');
    expect(await served.exited).toEqual({ code: 0, signal: null });
    expect(served.output()).not.toContain('hunter2-secret');
  });

  it('when started with WORKERS=2, then both workers serve, a revocation holds on each, and /metrics covers the node', async () => {
    const url = await freshDatabase();
    // A key file that does not exist yet: the node's primary makes it before its workers start.
    const keyFile = join(mkdtempSync(join(tmpdir(), 'lineup-pg-workers-')), 'credentials.key');
    const served = await serveProcess(
      { ...nodeEnv(url), WORKERS: '2', METRICS_TOKEN: 'metrics-token-for-the-test', CREDENTIALS_KEY_FILE: keyFile },
      children,
    );
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const key = generatePlaylistKey();
      await admin.query("INSERT INTO subscribers (username, key_hash, expires_at) VALUES ('wendy', $1, '2099-01-01 00:00:00')", [
        hashPlaylistKey(key),
      ]);
      const path = `${served.url}/playlist/${key}.m3u`;
      // Each request on a connection of its own: node hands connections to the workers in turn.
      for (let i = 0; i < 6; i++) expect((await fetchFrom(path)).status).toBe(200);
      await admin.query("UPDATE subscribers SET enabled = 0 WHERE username = 'wendy'");
      const started = performance.now();
      let refusedInARow = 0;
      while (refusedInARow < 6) {
        refusedInARow = (await fetchFrom(path)).status === 403 ? refusedInARow + 1 : 0;
        if (performance.now() - started > DEADLINE_MS) throw new Error('a worker still served wendy after 500 ms');
      }
      const metrics = await fetchFrom(`${served.url}/metrics`, { headers: { Authorization: 'Bearer metrics-token-for-the-test' } });
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/^lineup_change_feed_up 1$/m);
      expect(metrics.body).toMatch(/^lineup_playlist_requests_total\{outcome="403"\} ([6-9]|\d\d+)$/m);
    } finally {
      await admin.end();
    }
    served.child.kill('SIGTERM');
    expect(await served.exited).toEqual({ code: 0, signal: null });
  });

  it('when lineup serve runs with ADMIN_PORT and WORKERS=2, then the workers serve the admin API on the shared port', async () => {
    const url = await freshDatabase();
    const [adminPort] = await freePorts(1);
    const env = { ...nodeEnv(url), WORKERS: '2', ADMIN_PORT: String(adminPort), ADMIN_HOST: '127.0.0.1' };
    expect((await lineupProcess(['init'], env)).code).toBe(0);
    const token = (await lineupProcess(['api-token', 'add', 'billing'], env)).stdout.trimEnd().split('\n').at(-1)!;
    const served = await serveProcess(env, children);
    const api = `http://127.0.0.1:${adminPort}/api/v1/subscribers`;
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    // No waiting: the primary says it listens only once every worker's admin listener does too.
    // A new connection each time (fetchFrom's), which the primary hands to the workers in turn, each with its admin thread.
    for (let i = 0; i < 6; i++) {
      const created = await fetchFrom(api, { method: 'POST', headers, body: JSON.stringify({ username: `w${i}` }) });
      expect(created.status, created.body).toBe(201);
    }
    const listed = await fetchFrom(`${api}?limit=10`, { headers });
    expect(listed.status).toBe(200);
    expect(JSON.parse(listed.body).items.map((item: { username: string }) => item.username)).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
    expect((await fetchFrom(api)).status).toBe(401);
    served.child.kill('SIGTERM');
    expect(await served.exited).toEqual({ code: 0, signal: null });
  }, 90_000);
});
