import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openSessionDatabase, sessionDbPath } from '../../src/db/session-store.js';
import { type RunningNode, startPostgresNode } from '../../src/postgres-node.js';
import { applySql } from '../core/support.js';
import { lineupProcess } from '../helpers/command-line.js';
import { captureLogs, type FetchResult, fetchFrom, runCliCaptured, startTestLineup, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, queryOn } from '../helpers/postgres.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';
import { accountSchema, categoriesSchema, streamsSchema } from '../xtream/schemas.js';
import { type AddedLine, addXcSubscriber } from '../xtream/support.js';

/** How often a node is asked while waiting for it to see a change, and how long it may take. */
const POLL_MS = 5;
const DEADLINE_MS = 500;

/** One clock for the SQLite server, both nodes and the subscribers made: their answers may then be compared byte for byte. */
const NOW = Date.parse('2026-12-03T12:00:00Z') / 1000;
const clock = () => NOW;

/** Groups, no group, a channel in a package only one line has, one without a number. */
const LINEUP_SQL = `
INSERT INTO channels (stream, name, number, group_title, logo, tvg_id, catchup_days) VALUES
  ('news',     'News "24", Live', 1,    'News',   'http://logos.test/n.png', 'news.tv', 3),
  ('bare',     '',                2,    '',       '', '', 0),
  ('nonumber', 'No Number',       NULL, 'News',   '', '', 0);
INSERT INTO packages (name) VALUES ('premium');
INSERT INTO channels (stream, name, number, group_title) VALUES ('prem/movies', 'Premium Movies', 30, 'Movies');
INSERT INTO package_channels (package_id, channel_id)
  SELECT p.id, c.id FROM packages p JOIN channels c ON p.name = 'premium' AND c.stream = 'prem/movies';
`;

const LINES = ['alice', 'bob', 'lapsed', 'carol', 'dave'] as const;
type Line = (typeof LINES)[number];

/** A redirect's token salt is random per link (its digest with it): each is checked on its own, the rest compared. */
const unsalted = (text: string) => text.replace(/token=[0-9a-f]{40}-[0-9a-f]+-/g, 'token=DIGEST-SALT-');

/** An answer as comparable across servers: the server's own address and the token's salt left out. */
const comparable = ({ status, headers, body }: FetchResult, server: string) => ({
  status,
  type: headers['content-type'],
  location: typeof headers.location === 'string' ? unsalted(headers.location) : undefined,
  body: unsalted(body.replaceAll(server, 'SERVER')),
});

describePostgres('the Xtream Codes API on a PostgreSQL node', () => {
  let sqlite: TestLineup;
  let url: string;
  let env: NodeJS.ProcessEnv;
  let nodeA: RunningNode;
  let nodeB: RunningNode;
  const nodeLogs = captureLogs();
  const passwords = new Map<Line, string>();
  let channelOf: Record<string, number>;

  beforeAll(async () => {
    sqlite = await startTestLineup({ clock, env: { TOKEN_BUCKET: '300', GUESS_LIMIT: '2', GUESS_WINDOW: '600', GUESS_BLOCK: '900' } });
    await applySql(sqlite, LINEUP_SQL);
    const added: Record<Line, AddedLine> = {
      alice: await addXcSubscriber(sqlite, 'alice', '--until', '2027-06-01'),
      bob: await addXcSubscriber(sqlite, 'bob', '--until', '2027-06-01', '--package', 'premium', '--max-connections', '3'),
      lapsed: await addXcSubscriber(sqlite, 'lapsed', '--until', '2020-03-04 05:06:07', '--allow-past'),
      carol: await addXcSubscriber(sqlite, 'carol', '--until', '2027-06-01'),
      dave: await addXcSubscriber(sqlite, 'dave', '--until', '2027-06-01'),
    };
    for (const line of LINES) passwords.set(line, added[line].password);
    channelOf = Object.fromEntries(sqlite.context.db.prepare('SELECT stream, id FROM channels').raw().all() as Array<[string, number]>);

    url = await freshDatabase();
    const copied = await runCliCaptured(['db', 'copy', '--from', sqlite.dbPath, '--to', url], sqlite.env);
    expect(copied).toMatchObject({ code: 0, stderr: '' });
    // The key the copied passwords were sealed with: a file beside the SQLite database, not in it.
    env = { ...sqlite.env, LINEUP_DB: url, CREDENTIALS_KEY_FILE: `${sqlite.dbPath}.key` };
    [nodeA, nodeB] = await Promise.all([
      startPostgresNode(loadConfig(env), { logger: nodeLogs.logger, clock }),
      startPostgresNode(loadConfig(env), { logger: nodeLogs.logger, clock }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await sqlite?.close();
  });

  const xcPath = (line: Line, path: string, fields: Record<string, string> = {}) =>
    `${path}?${new URLSearchParams({ username: line, password: passwords.get(line)!, ...fields })}`;
  const livePath = (line: Line, stream: string, password = passwords.get(line)!) => `/live/${line}/${password}/${channelOf[stream]}.ts`;

  /** The same request to the SQLite server and to node A. */
  async function both(path: string): Promise<{ onSqlite: FetchResult; onPostgres: FetchResult }> {
    const [onSqlite, onPostgres] = await Promise.all([fetchFrom(sqlite.url + path), fetchFrom(nodeA.url + path)]);
    expect(comparable(onPostgres, nodeA.url)).toEqual(comparable(onSqlite, sqlite.url));
    return { onSqlite, onPostgres };
  }

  /** Polls node B every 5 ms until `path` answers `status`; the milliseconds it took, or a failure past 500 ms. */
  async function waitOnB(path: string, status: number, headers: Record<string, string> = {}): Promise<number> {
    const started = performance.now();
    for (;;) {
      const answered = await fetchFrom(nodeB.url + path, { headers });
      const waited = performance.now() - started;
      if (answered.status === status) return waited;
      if (waited > DEADLINE_MS) throw new Error(`node B still answered ${answered.status} after ${Math.round(waited)} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  describe('when the same data is asked of a SQLite server and of a PostgreSQL node', () => {
    it('then player_api.php answers the same account, categories and live streams', async () => {
      for (const line of ['alice', 'bob', 'lapsed'] as const) {
        const { onPostgres } = await both(xcPath(line, '/player_api.php'));
        expect(onPostgres.status).toBe(200);
        const account = accountSchema.parse(JSON.parse(onPostgres.body));
        expect(account.user_info).toMatchObject({ username: line, active_cons: '0', status: line === 'lapsed' ? 'Expired' : 'Active' });
      }
      for (const line of ['alice', 'bob'] as const) {
        const categories = await both(xcPath(line, '/player_api.php', { action: 'get_live_categories' }));
        expect(categoriesSchema.parse(JSON.parse(categories.onPostgres.body)).map((category) => category.category_name)).toEqual(
          line === 'bob' ? ['News', 'Uncategorized', 'Movies'] : ['News', 'Uncategorized'],
        );
        const streams = await both(xcPath(line, '/player_api.php', { action: 'get_live_streams' }));
        expect(streamsSchema.parse(JSON.parse(streams.onPostgres.body)).map((stream) => stream.stream_id)).toContain(channelOf.news);
        const categoryId = String(categoriesSchema.parse(JSON.parse(categories.onPostgres.body))[0]!.category_id);
        await both(xcPath(line, '/player_api.php', { action: 'get_live_streams', category_id: categoryId }));
      }
      // A lapsed line's lists: the same JSON refusal.
      expect((await both(xcPath('lapsed', '/player_api.php', { action: 'get_live_streams' }))).onPostgres.status).toBe(403);
    });

    it("then player_api.php's active_cons counts the line's open sessions that count now, on either node as on SQLite", async () => {
      const bob = sqlite.context.db.prepare("SELECT id FROM subscribers WHERE username = 'bob'").pluck().get() as number;
      const idle = loadConfig(env).authBackend.sessionIdle;
      // Two that count; one ended, one silent past SESSION_IDLE, and another line's, that do not.
      const rows = [
        `('flussonic', 'fs-1', ${bob}, '10.0.0.1', 'news', 'hls', 'f', ${NOW - 60}, ${NOW - 5}, NULL, NULL)`,
        `('nginx', '10.0.0.2 news', ${bob}, '10.0.0.2', 'news', '', 'f', ${NOW - 60}, ${NOW}, NULL, NULL)`,
        `('flussonic', 'fs-2', ${bob}, '10.0.0.3', 'news', 'hls', 'f', ${NOW - 60}, ${NOW}, ${NOW - 1}, 'replaced')`,
        `('flussonic', 'fs-3', ${bob}, '10.0.0.4', 'news', 'hls', 'f', ${NOW - idle - 60}, ${NOW - idle - 1}, NULL, NULL)`,
        `('flussonic', 'fs-4', ${bob + 1000}, '10.0.0.5', 'news', 'hls', 'f', ${NOW - 60}, ${NOW}, NULL, NULL)`,
      ].join(',\n');
      const insert = (table: string) =>
        `INSERT INTO ${table} (dialect, session_key, subscriber_id, ip, stream, proto, key_fingerprint, started_at, last_seen, ended_at, end_reason) VALUES ${rows}`;
      const sessionsFile = openSessionDatabase(sessionDbPath(sqlite.dbPath));
      try {
        sessionsFile.exec(insert('sessions'));
      } finally {
        sessionsFile.close();
      }
      await queryOn(url, insert('stream_sessions'));
      const { onPostgres } = await both(xcPath('bob', '/player_api.php'));
      expect(accountSchema.parse(JSON.parse(onPostgres.body)).user_info.active_cons).toBe('2');
      const onB = await fetchFrom(nodeB.url + xcPath('bob', '/player_api.php'));
      expect(accountSchema.parse(JSON.parse(onB.body)).user_info.active_cons).toBe('2');
    });

    it('then get.php answers the same M3U, and /live/… the same 302 to the same signed URL', async () => {
      for (const fields of [{}, { type: 'm3u', output: 'hls' }] as Record<string, string>[]) {
        const { onPostgres } = await both(xcPath('bob', '/get.php', fields));
        expect(onPostgres.status).toBe(200);
        expect(onPostgres.body).toMatch(/^#EXTM3U/);
        expect(onPostgres.body).toContain(`/live/bob/${passwords.get('bob')}/${channelOf['prem/movies']}.`);
      }
      const { onPostgres } = await both(livePath('alice', 'news'));
      expect(onPostgres.status).toBe(302);
      expect(verifySecuretokenUrl(onPostgres.headers.location as string, { key: TEST_KEY, ip: '127.0.0.1' })).toMatchObject({
        valid: true,
        stream: 'news',
        starttime: NOW - 300,
      });
      // A channel outside the line's packages, and a lapsed line: refused alike.
      expect((await both(livePath('alice', 'prem/movies'))).onPostgres.status).toBe(404);
      expect((await both(livePath('lapsed', 'news'))).onPostgres.status).toBe(403);
    });
  });

  describe("when get.php is refreshed on the other node with the first node's ETag", () => {
    it('then it is answered 304', async () => {
      const first = await fetchFrom(nodeA.url + xcPath('alice', '/get.php'));
      const etag = first.headers.etag as string;
      expect(first.status).toBe(200);
      expect(etag).toMatch(/^"/);
      const refresh = await fetchFrom(nodeB.url + xcPath('alice', '/get.php'), { headers: { 'If-None-Match': etag } });
      expect(refresh.status).toBe(304);
      // Another line's tag is not this one's.
      expect((await fetchFrom(nodeB.url + xcPath('bob', '/get.php'), { headers: { 'If-None-Match': etag } })).status).toBe(200);
    });

    it("then, once the CLI has given the line another package, the tag no longer matches and the M3U lists the package's channel", async () => {
      const path = xcPath('alice', '/get.php');
      const etag = (await fetchFrom(nodeA.url + path)).headers.etag as string;
      expect((await fetchFrom(nodeB.url + path, { headers: { 'If-None-Match': etag } })).status).toBe(304);
      const changed = await lineupProcess(['subscriber', 'packages', 'alice', '--add', 'premium'], env);
      expect(changed).toMatchObject({ code: 0, stderr: '' });
      const waited = await waitOnB(path, 200, { 'If-None-Match': etag });
      console.log(`node B's get.php tag moved ${waited.toFixed(1)} ms after lineup subscriber packages returned`);
      expect((await fetchFrom(nodeB.url + path)).body).toContain('Premium Movies');
    });
  });

  describe('when the CLI rotates a password against the database', () => {
    it('then the other node refuses the old one within 500 ms, and takes the new one', async () => {
      const old = livePath('carol', 'news');
      // Node B has let carol zap twice: her login is remembered there.
      for (let zap = 0; zap < 2; zap++) expect((await fetchFrom(nodeB.url + old)).status).toBe(302);
      const rotated = await lineupProcess(['subscriber', 'rotate-password', 'carol'], env);
      expect(rotated).toMatchObject({ code: 0, stderr: '' });
      const waited = await waitOnB(old, 401);
      console.log(`node B refused carol's old XC password ${waited.toFixed(1)} ms after lineup subscriber rotate-password returned`);
      const password = rotated.stdout.trimEnd().split('\n').at(-1)!;
      expect((await fetchFrom(nodeB.url + livePath('carol', 'news', password))).status).toBe(302);
    });
  });

  describe('when the CLI disables a line against the database', () => {
    it('then the other node refuses its login within 500 ms', async () => {
      const path = livePath('dave', 'news');
      for (let zap = 0; zap < 2; zap++) expect((await fetchFrom(nodeB.url + path)).status).toBe(302);
      const disabled = await lineupProcess(['subscriber', 'disable', 'dave'], env);
      expect(disabled).toMatchObject({ code: 0, stderr: '' });
      const waited = await waitOnB(path, 403);
      console.log(`node B refused disabled dave ${waited.toFixed(1)} ms after lineup subscriber disable returned`);
      const account = accountSchema.parse(JSON.parse((await fetchFrom(nodeB.url + xcPath('dave', '/player_api.php'))).body));
      expect(account.user_info.status).toBe('Disabled');
    });
  });

  describe('when wrong passwords are tried on a node', () => {
    it('then each is the XC refusal, counted by the guess limiter, and none is logged', async () => {
      // A remembered line first: a wrong password still costs the keyed hash and still counts.
      expect((await fetchFrom(nodeA.url + livePath('alice', 'news'))).status).toBe(302);
      const wrong = ['wrong-pass-1', 'wrong-pass-2', 'wrong-pass-3'];
      const api = await fetchFrom(`${nodeA.url}/player_api.php?${new URLSearchParams({ username: 'alice', password: wrong[0]! })}`);
      expect(api.status).toBe(401);
      expect(api.headers['content-type']).toMatch(/^application\/json/);
      expect((await fetchFrom(nodeA.url + livePath('alice', 'news', wrong[1]))).status).toBe(401);
      // A username node A has not looked up yet: the wrong password waits for the lookup, and counts the same.
      expect((await fetchFrom(nodeA.url + livePath('carol', 'news', wrong[2]))).status).toBe(401);
      // Past GUESS_LIMIT: refused before any login, the right password too.
      expect((await fetchFrom(nodeA.url + livePath('alice', 'news'))).status).toBe(429);
      const logged = nodeLogs.logs.lines.map((line) => JSON.stringify(line)).join('\n');
      expect(logged).toContain('/live/alice/');
      for (const password of [...wrong, passwords.get('alice')!]) expect(logged).not.toContain(password);
    });
  });

  describe('when the credentials key file is missing or holds another key', () => {
    it('then the node does not start, saying so in one line', async () => {
      const config = (file: string) => loadConfig({ ...env, CREDENTIALS_KEY_FILE: file });
      const missing = startPostgresNode(config(join(sqlite.dir, 'gone.key')), { logger: nodeLogs.logger, clock });
      await expect(missing).rejects.toThrow(/^CREDENTIALS_KEY_FILE: .*gone\.key is missing[^\n]*$/);
      const foreign = join(sqlite.dir, 'foreign.key');
      writeFileSync(foreign, `${'ab'.repeat(32)}\n`);
      await expect(startPostgresNode(config(foreign), { logger: nodeLogs.logger, clock })).rejects.toThrow(
        /^CREDENTIALS_KEY_FILE: .*foreign\.key holds another key[^\n]*$/,
      );
    });
  });
});
