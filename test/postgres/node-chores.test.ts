import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { TRIM_LOCK } from '../../src/db/pg/change-log-trim.js';
import { migratePostgresDatabase } from '../../src/db/pg/open.js';
import { PRUNE_LOCK } from '../../src/db/pg/prune-lock.js';
import { type RunningNode, startPostgresNode } from '../../src/postgres-node.js';
import { generatePlaylistKey, hashPlaylistKey } from '../../src/subscribers/keys.js';
import { LINEUP_BIN } from '../build-once.js';
import { serveCommandLine } from '../helpers/command-line.js';
import { captureLogs, fetchFrom, tempDir } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, postgresNodeEnv, queryOn } from '../helpers/postgres.js';
import type { ServeProcess } from '../helpers/serve-process.js';

const METRICS_TOKEN = 'metrics-token-for-tests';
/** Where the demo subscriber's credentials key is made: never in the checkout's data/. */
const scratch = tempDir();

function nodeEnv(url: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return postgresNodeEnv(url, { METRICS_TOKEN, LOG_LEVEL: 'info', CREDENTIALS_KEY_FILE: join(scratch.dir, 'credentials.key'), ...extra });
}

/** Polls `check` every 50 ms until it returns a value other than undefined; fails past `ms`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The JSON log lines of a node's output with this message. */
function logLines(node: ServeProcess, msg: string): Record<string, unknown>[] {
  return node
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg);
}

async function metricOf(node: ServeProcess, sample: string): Promise<number> {
  const { body } = await fetchFrom(`${node.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const line = body.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

const PRUNE_SKIPPED = 'prune skipped: another node is pruning this database (it holds the prune lock)';
const PRUNE_FINISHED = 'prune finished; pruned subscribers are restorable for PRUNE_KEEP_DAYS';
const HELD_SAMPLE = 'lineup_prune_skipped_total{reason="held"}';

describePostgres('the chores of nodes on one PostgreSQL database', () => {
  const children: ChildProcess[] = [];
  const inProcess: RunningNode[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await Promise.all(inProcess.splice(0).map((node) => node.stop()));
  });
  afterAll(() => scratch.cleanup());

  const serve = (env: NodeJS.ProcessEnv, demo = false) =>
    serveCommandLine(['node', LINEUP_BIN, 'serve', ...(demo ? ['--demo'] : [])], env, children);

  it('when two nodes prune every second over 20 lapsed subscribers, then 20 are pruned in all, the other node counts its run held, and both answer 410 for the pruned keys', async () => {
    const url = await freshDatabase();
    await migratePostgresDatabase(url);
    const lapsed = Array.from({ length: 20 }, () => generatePlaylistKey());
    const active = Array.from({ length: 5 }, () => generatePlaylistKey());
    await queryOn(url, 'INSERT INTO channels (stream, name, number) VALUES ($1, $2, 1)', ['news', 'News']);
    for (const [i, key] of lapsed.entries())
      await queryOn(url, "INSERT INTO subscribers (username, key_hash, expires_at) VALUES ($1, $2, '2020-01-01 00:00:00')", [
        `lapsed${i}`,
        hashPlaylistKey(key),
      ]);
    for (const [i, key] of active.entries())
      await queryOn(url, "INSERT INTO subscribers (username, key_hash, expires_at) VALUES ($1, $2, '2099-01-01 00:00:00')", [
        `active${i}`,
        hashPlaylistKey(key),
      ]);

    // Held by this test until each node has found it held: the skip is then certain, not left to timing.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    let nodes: ServeProcess[];
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [PRUNE_LOCK]);
      const env = nodeEnv(url, { PRUNE_CRON: '* * * * * *', PRUNE_MAX_SHARE: '100' });
      nodes = await Promise.all([serve(env), serve(env)]);
      // Each node remembers the lapsed subscribers as expired before the prune.
      for (const node of nodes) expect((await fetchFrom(`${node.url}/playlist/${lapsed[0]}.m3u`)).status).toBe(403);
      await eventually('both nodes to find the prune held', () =>
        nodes.every((node) => logLines(node, PRUNE_SKIPPED).length > 0) ? true : undefined,
      );
      for (const node of nodes) expect(await metricOf(node, HELD_SAMPLE)).toBeGreaterThanOrEqual(1);
      expect(await queryOn(url, 'SELECT count(*)::int AS n FROM subscribers')).toEqual([{ n: 25 }]);
    } finally {
      await holder.end();
    }

    await eventually('the lapsed subscribers to be pruned', async () => {
      const [row] = await queryOn<{ n: number }>(url, "SELECT count(*)::int AS n FROM subscribers WHERE username LIKE 'lapsed%'");
      return row?.n === 0 ? true : undefined;
    });
    expect(await queryOn(url, 'SELECT count(*)::int AS n FROM pruned_subscribers')).toEqual([{ n: 20 }]);
    expect(await queryOn(url, "SELECT count(*)::int AS n FROM subscribers WHERE username LIKE 'active%'")).toEqual([{ n: 5 }]);
    // The run that pruned them reports once its thread ends; every later tick finds nobody left, or the other node at it.
    const deletedInLogs = () =>
      nodes.flatMap((node) => logLines(node, PRUNE_FINISHED).map((line) => line.deleted as number)).reduce((a, b) => a + b, 0);
    await eventually('the pruning run to report', () => (deletedInLogs() > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(deletedInLogs()).toBe(20);
    const counted = await Promise.all(nodes.map((node) => metricOf(node, 'lineup_prune_deleted_subscribers_total')));
    expect(counted[0]! + counted[1]!).toBe(20);
    // The deletions fire the change triggers: every node forgets the subscribers it remembered.
    for (const node of nodes) {
      // The first within a notification's delay (a loaded machine's), then every one.
      await eventually(`${node.url} to forget the pruned`, async () =>
        (await fetchFrom(`${node.url}/playlist/${lapsed[0]}.m3u`)).status === 410 ? true : undefined,
      );
      for (const key of lapsed) expect((await fetchFrom(`${node.url}/playlist/${key}.m3u`)).status).toBe(410);
      for (const key of active) expect((await fetchFrom(`${node.url}/playlist/${key}.m3u`)).status).toBe(200);
    }
    // Each node takes the lock at every tick (every second), so one may hold it at any moment;
    // what must not happen is a lock kept after its run: it is free between two runs.
    await eventually('the prune lock to be free between runs', async () => {
      const [row] = await queryOn<{ n: number }>(
        url,
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1",
        [Number(BigInt(PRUNE_LOCK) & 0xffffffffn)],
      );
      return row?.n === 0 ? true : undefined;
    });
  });

  it('when two nodes start at once with --demo on an empty database, then one demo lineup is seeded and one demo URL printed, which both serve', async () => {
    const url = await freshDatabase();
    const env = nodeEnv(url);
    const nodes = await Promise.all([serve(env, true), serve(env, true)]);
    const printed = nodes.flatMap((node) =>
      [...node.output().matchAll(/^(http:\/\/lineup\.test\/playlist\/\S+\.m3u)$/gm)].map((m) => m[1]!),
    );
    expect(printed).toHaveLength(1);
    expect(nodes.filter((node) => node.output().includes('Demo subscriber "demo" created')).length).toBe(1);
    expect(await queryOn(url, 'SELECT count(*)::int AS n FROM channels')).toEqual([{ n: 4 }]);
    expect(await queryOn(url, 'SELECT username, note FROM subscribers')).toEqual([
      { username: 'demo', note: 'created by the first start' },
    ]);
    const path = new URL(printed[0]!).pathname;
    for (const node of nodes) {
      // The node that did not seed reads the new lineup when the change feed says so.
      const body = await eventually(`the demo playlist on ${node.url}`, async () => {
        const answer = await fetchFrom(`${node.url}${path}`);
        return answer.status === 200 && answer.body.includes('Demo Cartoons') ? answer.body : undefined;
      });
      expect(body.match(/^#EXTINF/gm)).toHaveLength(4);
    }
  });

  it('when a node starts with --demo on a database that holds data, then it seeds nothing and prints no demo URL', async () => {
    const url = await freshDatabase();
    await migratePostgresDatabase(url);
    await queryOn(url, "INSERT INTO channels (stream, name, number) VALUES ('own', 'Own Channel', 7)");
    const node = await serve(nodeEnv(url), true);
    expect(node.output()).not.toContain('Demo subscriber');
    expect(await queryOn(url, 'SELECT name FROM channels')).toEqual([{ name: 'Own Channel' }]);
    expect(await queryOn(url, 'SELECT count(*)::int AS n FROM subscribers')).toEqual([{ n: 0 }]);
    expect(await queryOn(url, "SELECT count(*)::int AS n FROM settings WHERE name = 'seeded_at'")).toEqual([{ n: 1 }]);
  });

  it('when a node starts, then it records how it signs and, with a generated key, warns once', async () => {
    const url = await freshDatabase();
    const node = await serve(nodeEnv(url, { SECURETOKEN_KEY: '' }));
    const warnings = node.output().match(/SECURETOKEN_KEY is not set: generated a random key/g);
    expect(warnings).toHaveLength(1);
    const [record] = await queryOn<{ value: string }>(url, "SELECT value FROM settings WHERE name = 'signing_fingerprint'");
    expect(JSON.parse(record!.value)).toMatchObject({ generatedKey: true });
    const [key] = await queryOn<{ value: string }>(url, "SELECT value FROM settings WHERE name = 'securetoken_key'");
    expect(node.output()).not.toContain(key!.value);
  });

  it('when two nodes start over a change log 500 rows past what is kept, then it is trimmed to the last 20,000, by one node', async () => {
    const url = await freshDatabase();
    await migratePostgresDatabase(url);
    await queryOn(url, 'INSERT INTO subscriber_changes (subscriber_id) SELECT 0 FROM generate_series(1, 20500)');
    const logs = [captureLogs(), captureLogs()];
    const nodes = await Promise.all(logs.map(({ logger }) => startPostgresNode(loadConfig(nodeEnv(url)), { logger })));
    inProcess.push(...nodes);
    await eventually('the change log to be trimmed', async () => {
      const [row] = await queryOn<{ n: number }>(url, 'SELECT count(*)::int AS n FROM subscriber_changes');
      return row?.n === 20_000 ? true : undefined;
    });
    expect(await queryOn(url, 'SELECT min(seq)::int AS min FROM subscriber_changes')).toEqual([{ min: 501 }]);
    expect(await queryOn(url, 'SELECT through_seq::int AS through FROM subscriber_changes_trimmed')).toEqual([{ through: 500 }]);
    await Promise.all(nodes.map((node) => node.stop()));
    inProcess.length = 0;
    const trims = logs.flatMap(({ logs: captured }) =>
      captured.lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg === 'trimmed the subscriber change log'),
    );
    expect(trims).toEqual([expect.objectContaining({ deleted: 500 })]);
  });

  it('when another session holds the trim lock, then a node leaves the change log alone', async () => {
    const url = await freshDatabase();
    await migratePostgresDatabase(url);
    await queryOn(url, 'INSERT INTO subscriber_changes (subscriber_id) SELECT 0 FROM generate_series(1, 20500)');
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [TRIM_LOCK]);
      const { logger } = captureLogs();
      const node = await startPostgresNode(loadConfig(nodeEnv(url)), { logger });
      inProcess.push(node);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await queryOn(url, 'SELECT count(*)::int AS n FROM subscriber_changes')).toEqual([{ n: 20_500 }]);
    } finally {
      await holder.end();
    }
  });
});
