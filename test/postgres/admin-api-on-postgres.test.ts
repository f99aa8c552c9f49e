import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { loadConfig as LoadConfig } from '../../src/config.js';
import type { RunningNode, startPostgresNode as StartPostgresNode } from '../../src/postgres-node.js';
import { type ApiLineup, startApiLineup } from '../api/api-client.js';
import { applySql } from '../core/support.js';
import { lineupProcess } from '../helpers/command-line.js';
import { type CliResult, captureLogs, fetchFrom, lastLine } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, postgresNodeEnv, queryOn } from '../helpers/postgres.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** How often a node is asked while waiting for it to see a change, and how long it may take. */
const POLL_MS = 5;
const DEADLINE_MS = 500;

/** One clock for the SQLite server and both nodes, so that expiries and states compare exactly. */
const NOW = Math.floor(Date.now() / 1000);
const clock = () => NOW;

const LINEUP_SQL = `
INSERT INTO channels (stream, name, number, group_title) VALUES
  ('news', 'News', 1, 'News'), ('sport', 'Sport', 2, 'Sport'), ('nonumber', 'No Number', NULL, '');
INSERT INTO packages (name, description) VALUES ('premium', 'the good ones'), ('kids', '');
INSERT INTO package_channels (package_id, channel_id)
  SELECT p.id, c.id FROM packages p JOIN channels c ON p.name = 'premium' AND c.stream = 'sport';
INSERT INTO package_channels (package_id, channel_id)
  SELECT p.id, c.id FROM packages p JOIN channels c ON p.name = 'kids' AND c.stream = 'sport';
`;

interface Answer {
  status: number;
  replayed: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: an answer's JSON, compared whole
  json: any;
}

/** Times the database stamps (created_at, the audit's at) and secrets that are new on every run, left out; the rest compares. */
function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'string' ? value.replace(/\/playlist\/[A-Za-z0-9_-]+\.m3u/, '/playlist/KEY.m3u') : value;
  }
  return Object.fromEntries(
    Object.entries(value).map(([name, field]) => [
      name,
      ['created_at', 'at', 'password', 'id', 'started_at', 'last_seen'].includes(name) && field !== null ? 'SET' : comparable(field),
    ]),
  );
}

type Api = (method: string, path: string, options?: { body?: unknown; token?: string | null; key?: string }) => Promise<Answer>;

function apiOn(adminUrl: string, token: string): Api {
  return async (method, path, { body, token: bearer = token, key } = {}) => {
    const response = await fetch(`${adminUrl}/api/v1${path}`, {
      method,
      headers: {
        ...(bearer !== null ? { Authorization: `Bearer ${bearer}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(key !== undefined ? { 'Idempotency-Key': key } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    expect(response.headers.get('content-type') ?? '', `${method} ${path}`).toMatch(
      response.status >= 400 ? /^application\/problem\+json/ : text === '' ? /^$/ : /^application\/json/,
    );
    return {
      status: response.status,
      replayed: response.headers.get('idempotent-replayed'),
      json: text === '' ? undefined : JSON.parse(text),
    };
  };
}

/** A session the auth backend would have opened, seen now: `values` for (subscriber_id, ip, stream). */
const SESSION_COLUMNS = 'dialect, session_key, subscriber_id, ip, stream, proto, key_fingerprint, started_at, last_seen';

/**
 * The representative scenario, run the same on each backend: every operation, its paging, its
 * problems (401, 403, 404, 409, 400/422) and idempotency. Each step's status, replay header and
 * JSON are kept to compare.
 */
async function scenario(api: Api, readOnly: string, openSessions: (username: string) => Promise<void>): Promise<Answer[]> {
  const steps: Answer[] = [];
  const step = async (method: string, path: string, options?: Parameters<Api>[2]) => {
    const answer = await api(method, path, options);
    steps.push({ ...answer, json: comparable(answer.json) });
    return answer;
  };
  await step('POST', '/subscribers', { body: { username: 'alice', days: 30, packages: ['premium'], max_connections: 2, note: 'n' } });
  await step('POST', '/subscribers', { body: { username: 'alice', days: 5 } });
  await step('POST', '/subscribers', { body: { username: 'bob', until: '2027-06-01', packages: ['kids', 'premium'] }, key: 'order-1' });
  await step('POST', '/subscribers', { body: { username: 'bob', until: '2027-06-01', packages: ['kids', 'premium'] }, key: 'order-1' });
  await step('POST', '/subscribers', { body: { username: 'bob', days: 3 }, key: 'order-1' });
  await step('POST', '/subscribers', { body: { username: 'carol', packages: ['nope'] } });
  await step('POST', '/subscribers', { body: { username: 'has space' } });
  await step('POST', '/subscribers', { body: '{"username":' });
  await step('POST', '/subscribers', { body: { username: 'dave', until: '2001-01-01' } });
  await step('POST', '/subscribers', { body: { username: 'erin', days: 1 } });
  await step('GET', '/subscribers/alice');
  await step('GET', '/subscribers/nobody');
  const first = await step('GET', '/subscribers?limit=2');
  await step('GET', `/subscribers?limit=2&cursor=${first.json.next_cursor}`);
  await step('GET', '/subscribers?cursor=bm9wZQ');
  await step('GET', '/subscribers?package=premium&state=active');
  await step('GET', '/subscribers?username_prefix=b');
  await step('PATCH', '/subscribers/alice', { body: { enabled: false, note: 'paused', max_connections: 3 } });
  await step('PATCH', '/subscribers/alice', { body: { packages: ['nope'] } });
  await step('PATCH', '/subscribers/alice', { body: { packages: ['kids'], enabled: true } });
  await step('PATCH', '/subscribers/nobody', { body: { enabled: false } });
  await step('POST', '/subscribers/alice/renew', { body: { days: 10 } });
  await step('POST', '/subscribers/bob/renew', { body: { until: '2028-01-01 12:00:00' } });
  await step('POST', '/subscribers/bob/renew', { body: {} });
  await step('POST', '/subscribers/erin/rotate-key');
  await step('GET', '/packages');
  await step('GET', '/channels');
  await step('GET', '/lint');
  await openSessions('alice');
  await step('GET', '/sessions');
  await step('GET', '/sessions?username=bob');
  await step('GET', '/sessions?username=nobody');
  await step('DELETE', '/subscribers/alice/sessions', { token: readOnly });
  await step('DELETE', '/subscribers/alice/sessions');
  await step('GET', '/sessions?username=alice');
  await step('GET', '/subscribers', { token: readOnly });
  await step('POST', '/subscribers', { body: { username: 'zed' }, token: readOnly });
  await step('GET', '/subscribers', { token: null });
  await step('GET', '/subscribers', { token: `lineup_${'x'.repeat(43)}` });
  await step('DELETE', '/subscribers/erin');
  await step('DELETE', '/subscribers/erin');
  await step('GET', '/subscribers/erin');
  await step('GET', '/nothing-here');
  await step('GET', '/audit?limit=100');
  await step('GET', '/audit?username=alice');
  await step('GET', '/audit?since=2001-01-01&limit=3');
  return steps;
}

/** A command's output with the made token, the times and the row ids (each database saw other writes) left out. */
const printed = ({ code, stdout, stderr }: CliResult) => ({
  code,
  stderr,
  stdout: stdout
    .replace(/lineup_[A-Za-z0-9_-]{43}/g, 'TOKEN')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, 'TIME')
    .replace(/"(at|startedAt|lastSeen)": "[^"]*"/g, '"$1": "TIME"')
    .replace(/"(id|subscriberId)": \d+/g, '"$1": "ID"'),
});

describePostgres('the admin API on PostgreSQL nodes', () => {
  let sqlite: ApiLineup;
  let url: string;
  let env: NodeJS.ProcessEnv;
  let nodeA: RunningNode;
  let nodeB: RunningNode;
  let tokenPg: string;
  let readOnlyPg: string;
  let admin: pg.Client;
  const logs = captureLogs();

  let readOnlySqlite: string;

  beforeAll(async () => {
    sqlite = await startApiLineup({ clock });
    await applySql(sqlite, LINEUP_SQL);
    readOnlySqlite = await sqlite.addToken('reader', '--read-only');

    url = await freshDatabase();
    env = postgresNodeEnv(url, { ADMIN_PORT: '0', ADMIN_HOST: '127.0.0.1' });
    expect(await lineupProcess(['init'], env, ROOT)).toMatchObject({ code: 0 });
    // Through the built command, as an operator makes them: its synchronous connection is a dist/ worker.
    // In SQLite's order (the token, the lineup, then the read-only token), so that the audit trails compare.
    const made = await lineupProcess(['api-token', 'add', 'billing'], env, ROOT);
    expect(made).toMatchObject({ code: 0, stderr: '' });
    tokenPg = lastLine(made.stdout);
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(LINEUP_SQL);
    readOnlyPg = lastLine((await lineupProcess(['api-token', 'add', 'reader', '--read-only'], env, ROOT)).stdout);

    // The built node, whose admin thread runs from dist/ (as `lineup serve` runs it).
    const { startPostgresNode } = (await import(join(ROOT, 'dist/postgres-node.js'))) as { startPostgresNode: typeof StartPostgresNode };
    const { loadConfig } = (await import(join(ROOT, 'dist/config.js'))) as { loadConfig: typeof LoadConfig };
    [nodeA, nodeB] = await Promise.all([
      startPostgresNode(loadConfig(env), { logger: logs.logger, clock }),
      startPostgresNode(loadConfig(env), { logger: logs.logger, clock }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await admin?.end();
    await sqlite?.close();
  });

  it('when the same requests reach the API on SQLite and on a PostgreSQL node, then every status, problem and JSON answer is the same', async () => {
    const sessionsFile = new Database(join(sqlite.dir, 'lineup.sessions.db'));
    const onSqlite = await scenario(apiOn(sqlite.adminUrl, sqlite.token), readOnlySqlite, async (username) => {
      const { id } = sqlite.context.db.prepare('SELECT id FROM subscribers WHERE username = ?').get(username) as { id: number };
      sessionsFile
        .prepare(`INSERT INTO sessions (${SESSION_COLUMNS}) VALUES ('nginx', ?, ?, '10.0.0.7', 'news', 'hls', 'f', ?, ?)`)
        .run(`10.0.0.7/news`, id, NOW - 60, NOW - 5);
    });
    sessionsFile.close();
    const onPostgres = await scenario(apiOn(nodeA.adminUrl!, tokenPg), readOnlyPg, async (username) => {
      await admin.query(
        `INSERT INTO stream_sessions (${SESSION_COLUMNS})
         SELECT 'nginx', '10.0.0.7/news', id, '10.0.0.7', 'news', 'hls', 'f', $2, $3 FROM subscribers WHERE username = $1`,
        [username, NOW - 60, NOW - 5],
      );
    });
    expect(onPostgres.map((step) => step.status)).toEqual(onSqlite.map((step) => step.status));
    expect(onPostgres).toEqual(onSqlite);
    // The scenario covers what it says: successes, each problem, and one replay.
    expect(new Set(onSqlite.map((step) => step.status))).toEqual(new Set([200, 201, 204, 400, 401, 403, 404, 409, 422]));
    expect(onSqlite.filter((step) => step.replayed === 'true')).toHaveLength(1);
    expect(onSqlite.find((step) => step.status === 403)!.json.type).toMatch(/^urn:lineup:problem:/);
  });

  it('when the API writes on PostgreSQL, then the audit trail names api:TOKEN for them, and cli for the tokens made', async () => {
    const rows = await queryOn<{ actor: string; entity: string; action: string; subject: string }>(
      url,
      "SELECT actor, entity, action, subject FROM audit_log WHERE entity IN ('api_token', 'subscriber') ORDER BY id",
    );
    expect(rows.slice(0, 2)).toEqual([
      { actor: 'cli', entity: 'api_token', action: 'insert', subject: 'billing' },
      { actor: 'cli', entity: 'api_token', action: 'insert', subject: 'reader' },
    ]);
    const subscriberRows = rows.filter((row) => row.entity === 'subscriber');
    expect(subscriberRows.length).toBeGreaterThan(5);
    expect(new Set(subscriberRows.map((row) => row.actor))).toEqual(new Set(['api:billing']));
    // The session's actor was the transaction's own: the connection's is the server's again.
    const api = apiOn(nodeB.adminUrl!, tokenPg);
    expect((await api('GET', '/audit?limit=1')).json.items[0].actor).toBe('api:billing');
  });

  it('when a subscriber is disabled through the API on node A, then node B answers its playlist 403 within 500 ms', async () => {
    const api = apiOn(nodeA.adminUrl!, tokenPg);
    const created = await api('POST', '/subscribers', { body: { username: 'viewer', days: 30 } });
    expect(created.status).toBe(201);
    const path = new URL(created.json.playlist_url).pathname;
    expect((await fetchFrom(nodeB.url + path)).status).toBe(200);
    expect((await api('PATCH', '/subscribers/viewer', { body: { enabled: false } })).status).toBe(200);
    const started = performance.now();
    for (;;) {
      const { status } = await fetchFrom(nodeB.url + path);
      if (status === 403) break;
      expect(performance.now() - started, `node B still answered ${status}`).toBeLessThan(DEADLINE_MS);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    console.log(`node B answered 403 ${(performance.now() - started).toFixed(1)} ms after node A's API answered the PATCH`);
  });

  it('when one request with one Idempotency-Key reaches two nodes at once, then it applies once: one fresh answer, one replayed', async () => {
    for (let round = 0; round < 5; round++) {
      const body = { username: `twin${round}`, days: 7 };
      const [a, b] = await Promise.all([
        apiOn(nodeA.adminUrl!, tokenPg)('POST', '/subscribers', { body, key: `twin-order-${round}` }),
        apiOn(nodeB.adminUrl!, tokenPg)('POST', '/subscribers', { body, key: `twin-order-${round}` }),
      ]);
      expect([a.status, b.status]).toEqual([201, 201]);
      expect([a.replayed, b.replayed].sort()).toEqual(['true', null].sort());
      expect(b.json).toEqual(a.json);
      expect(await queryOn(url, 'SELECT id FROM subscribers WHERE username = $1', [body.username])).toHaveLength(1);
    }
  });

  it("when an API write waits on a row another session holds, then the node's event loop still answers playlists meanwhile", async () => {
    const api = apiOn(nodeA.adminUrl!, tokenPg);
    const created = await api('POST', '/subscribers', { body: { username: 'locked', days: 30 } });
    const path = new URL(created.json.playlist_url).pathname;
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM subscribers WHERE username = 'locked' FOR UPDATE");
      let settled = false;
      const write = api('PATCH', '/subscribers/locked', { body: { note: 'after the lock' } }).finally(() => {
        settled = true;
      });
      // The write is on the admin thread, waiting for the row: give it time to get there.
      for (let waited = 0; waited < 2000; waited += 20) {
        const [waiting] = await queryOn<{ count: number }>(
          url,
          "SELECT count(*)::int AS count FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE subscribers%'",
        );
        if (waiting!.count > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const answered = [];
      for (let i = 0; i < 5; i++) answered.push((await fetchFrom(nodeA.url + path)).status);
      expect(answered).toEqual([200, 200, 200, 200, 200]);
      expect(settled).toBe(false);
      await holder.query('COMMIT');
      const done = await write;
      expect(done.status).toBe(200);
      expect(done.json.note).toBe('after the lock');
    } finally {
      await holder.end();
    }
  });

  it('when a write waits on a row for longer than the lock timeout, then it is a 503 problem, nothing is applied, and the API serves on', async () => {
    const api = apiOn(nodeB.adminUrl!, tokenPg);
    expect((await api('POST', '/subscribers', { body: { username: 'held', days: 30 } })).status).toBe(201);
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM subscribers WHERE username = 'held' FOR UPDATE");
      const waited = await api('PATCH', '/subscribers/held', { body: { note: 'too late' }, key: 'held-1' });
      expect(waited.status).toBe(503);
      expect(waited.json).toMatchObject({ status: 503, detail: 'Database unavailable, try again shortly' });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    // Nothing kept under the key: the retry applies.
    const retried = await api('PATCH', '/subscribers/held', { body: { note: 'on time' }, key: 'held-1' });
    expect(retried).toMatchObject({ status: 200, replayed: null });
    expect(retried.json.note).toBe('on time');
  }, 30_000);

  it("when PostgreSQL ends the admin thread's connection, then calls meanwhile are 503 problems, never 500, and the API serves again", async () => {
    const api = apiOn(nodeA.adminUrl!, tokenPg);
    expect((await api('GET', '/subscribers?limit=1')).status).toBe(200);
    // Every connection to the database but the test's own (the nodes' pools and feeds recover on their own).
    const [own] = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    await queryOn(
      url,
      'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1',
      [own!.pid],
    );
    const statuses: number[] = [];
    for (let tries = 0; tries < 100; tries++) {
      const { status } = await api('GET', '/subscribers?limit=1');
      statuses.push(status);
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The first call found the connection gone (its backend had exited), and a later one opened another.
    expect(statuses[0]).toBe(503);
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.slice(0, -1).every((status) => status === 503)).toBe(true);
    expect((await api('POST', '/subscribers', { body: { username: 'after-restart', days: 1 } })).status).toBe(201);
  });

  it('when api-token, audit and sessions run on PostgreSQL through the built CLI, then they print what they print on SQLite', async () => {
    const onBoth = async (argv: string[]) => {
      const [onSqlite, onPostgres] = await Promise.all([lineupProcess(argv, sqlite.env, ROOT), lineupProcess(argv, env, ROOT)]);
      expect(printed(onPostgres), argv.join(' ')).toEqual(printed(onSqlite));
      return onPostgres;
    };
    // A line of its own on each backend, made through the API with the one clock, so that the audit trails match.
    const body = { username: 'watcher', days: 30 };
    expect((await sqlite.api('POST', '/api/v1/subscribers', { body })).status).toBe(201);
    expect((await apiOn(nodeA.adminUrl!, tokenPg)('POST', '/subscribers', { body })).status).toBe(201);
    await onBoth(['api-token', 'add', 'ops', '--read-only']);
    await onBoth(['api-token', 'add', 'ops']);
    await onBoth(['api-token', 'revoke', 'ops']);
    const listed = await onBoth(['api-token', 'list']);
    expect(printed(listed).stdout).toMatch(/^billing {2}read-write {2}created TIME UTC\nreader {2}read-only {2}created TIME UTC\n$/);
    await onBoth(['audit', '--user', 'watcher']);
    await onBoth(['audit', '--user', 'watcher', '--json', '--since', '2001-01-01']);
    await onBoth(['sessions', '--user', 'nobody']);
    // A session that counts shows alike.
    const sessionsFile = new Database(join(sqlite.dir, 'lineup.sessions.db'));
    const now = Math.floor(Date.now() / 1000);
    const { id } = sqlite.context.db.prepare("SELECT id FROM subscribers WHERE username = 'watcher'").get() as { id: number };
    sessionsFile
      .prepare(`INSERT INTO sessions (${SESSION_COLUMNS}) VALUES ('flussonic', 's1', ?, '10.0.0.9', 'sport', 'dash', 'f', ?, ?)`)
      .run(id, now - 30, now - 2);
    sessionsFile.close();
    await admin.query(
      `INSERT INTO stream_sessions (${SESSION_COLUMNS})
       SELECT 'flussonic', 's1', id, '10.0.0.9', 'sport', 'dash', 'f', $1, $2 FROM subscribers WHERE username = 'watcher'`,
      [now - 30, now - 2],
    );
    expect((await onBoth(['sessions'])).stdout).toMatch(/watcher +10\.0\.0\.9 +sport +dash +flussonic/);
    await onBoth(['sessions', '--user', 'watcher', '--json']);
  }, 180_000);
});
