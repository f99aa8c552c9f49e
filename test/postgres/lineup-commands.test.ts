import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SUBSCRIBER_WRITES_LOCK } from '../../src/db/pg/subscriber-store.js';
import { LINEUP_BIN } from '../build-once.js';
import { lineupProcess, serveCommandLine } from '../helpers/command-line.js';
import { type CliResult, fetchFrom, lastLine, runCliCaptured, startTestLineup, type TestLineup, tempDir } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, postgresNodeEnv, queryOn } from '../helpers/postgres.js';
import type { ServeProcess } from '../helpers/serve-process.js';

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLE = join(ROOT, 'playlists/example.m3u');
/** A password in the URL: no output may show it. */
const SECRET = 'pg-secret-word';
/** Tokens signed at the start of a bucket this long are the same in every process within it. */
const TOKEN_BUCKET = '3600';

const withPassword = (url: string) => {
  const parsed = new URL(url);
  parsed.password = SECRET;
  return parsed.toString();
};

/** The operator's own channels, whose numbers 201, 301 and 401 the example M3U also uses. */
const OPERATORS_CHANNELS = `INSERT INTO channels (stream, name, number, group_title) VALUES
  ('bbc-one', 'BBC One', 101, 'General'),
  ('live/news24', 'News 24', 201, 'News'),
  ('sport/arena1', 'Sport Arena 1', 301, 'Sport'),
  ('kids/toons', 'Toons', 401, 'Kids');
`;

/** The operator renumbers an imported channel by hand: a re-import must keep it. */
const HAND_EDIT = "UPDATE channels SET number = 1102 WHERE stream = 'bbc-two';\n";

/** Three playlist addresses of alice's (max 1 connection) and two of bob's (max 2), today. */
const ADDRESSES = `INSERT INTO playlist_ips (subscriber_id, ip, first_seen, last_seen, buckets)
  SELECT s.id, a.ip, datetime('now', 'start of day'), datetime('now', 'start of day'), 1
  FROM subscribers s JOIN (SELECT 'alice' AS username, '203.0.113.9' AS ip UNION ALL SELECT 'alice', '198.51.100.7'
    UNION ALL SELECT 'alice', '2001:db8::1' UNION ALL SELECT 'bob', '192.0.2.1' UNION ALL SELECT 'bob', '192.0.2.2') a
  ON a.username = s.username;
`;

/**
 * Keys and times that differ between any two runs, whatever the backend, and the channel ids that
 * lint names: SQLite gives a new row the highest rowid + 1, so after the demo's rows (the highest)
 * are deleted it hands their ids out again, where PostgreSQL's identity moves on.
 */
const masked = (text: string) =>
  text
    .replace(/\/playlist\/[A-Za-z0-9_-]+\.m3u/g, '/playlist/KEY.m3u')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, 'TIME')
    .replace(/(, password )[A-Za-z0-9._~-]+/g, '$1PASSWORD')
    .replace(/#\d+ (\\?")/g, '#ID $1')
    .replace(/channel #\d+ /g, 'channel #ID ')
    .replace(/"channelIds": \[[\d,\s]*\]/g, '"channelIds": [IDS]');

/** Every row of the lineup's tables (imported_at aside), by stream rather than id (see `masked`). */
const LINEUP_TABLES = [
  'SELECT stream, name, CAST(number AS INTEGER) AS number, group_title, logo, tvg_id, origin, enabled, catchup_days, radio FROM channels',
  'SELECT name FROM packages',
  'SELECT p.name, c.stream FROM package_channels pc JOIN packages p ON p.id = pc.package_id JOIN channels c ON c.id = pc.channel_id',
  `SELECT c.stream, ci.origin_key, ci.import_key, ci.source, ci.name, CAST(ci.number AS INTEGER) AS number, ci.group_title, ci.logo,
     ci.tvg_id, ci.catchup_days, ci.radio
   FROM channel_imports ci JOIN channels c ON c.id = ci.channel_id`,
  'SELECT CAST(id AS INTEGER) AS id, username, max_connections FROM subscribers',
];

/** Rows in one order whatever the backend's collation. */
const sorted = (rows: unknown[]) => rows.map((row) => JSON.stringify(row)).sort();

function sqliteRows(path: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return LINEUP_TABLES.map((sql) => sorted(db.prepare(sql).all()));
  } finally {
    db.close();
  }
}

async function postgresRows(url: string): Promise<unknown[]> {
  return Promise.all(LINEUP_TABLES.map(async (sql) => sorted(await queryOn(url, sql))));
}

describePostgres('lineup import, lint, render, report and demo on PostgreSQL', () => {
  let url: string;
  let sqlite: TestLineup;
  let sqliteEnv: NodeJS.ProcessEnv;
  let postgresEnv: NodeJS.ProcessEnv;
  let steps: string[][] = [];
  /** The audit trail's last row once the copy was made. */
  let auditedBefore = 0;
  const sqliteRuns: CliResult[] = [];
  const postgresRuns: CliResult[] = [];
  /** The PostgreSQL lineup's rows after each step. */
  const postgresAfter: unknown[] = [];

  const file = (name: string, text: string) => {
    const path = join(sqlite.dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    url = withPassword(await freshDatabase());
    // The demo as `lineup serve --demo` seeds it on a first start, then the same database on both.
    sqlite = await startTestLineup({ seedDemo: true, env: { TOKEN_BUCKET } });
    await sqlite.stop();
    sqliteEnv = { ...sqlite.env, CREDENTIALS_KEY_FILE: `${sqlite.dbPath}.key` };
    postgresEnv = { ...sqliteEnv, LINEUP_DB: url };
    const copied = await runCliCaptured(['db', 'copy', '--from', sqlite.dbPath, '--to', url], {});
    expect(copied).toMatchObject({ code: 0, stderr: '' });
    auditedBefore = (await queryOn<{ id: number }>(url, 'SELECT coalesce(max(id), 0)::int AS id FROM audit_log'))[0]!.id;

    const renamed = readFileSync(EXAMPLE, 'utf8').replace(',BBC Two\r\n', ',BBC Two HD\r\n');
    expect(renamed).toContain('BBC Two HD');
    steps = [
      ['lint'],
      ['lint', '--json'],
      ['import', EXAMPLE, '--dry-run', '--package', 'basic'],
      // Before the demo goes, so that the subscribers' ids (in the tokens' salts) are the same on both.
      ['subscriber', 'add', 'alice', '--until', '2031-05-01', '--max-connections', '1'],
      ['subscriber', 'add', 'bob', '--until', '2031-05-01', '--max-connections', '2'],
      ['subscriber', 'add', 'carol', '--until', '2020-01-01', '--allow-past'],
      ['demo', 'remove'],
      ['demo', 'remove'],
      ['sql', file('operators.sql', OPERATORS_CHANNELS)],
      // Refused, each in one line, nothing written: new lint errors, a file that is no M3U, an origin that is not there.
      ['import', EXAMPLE, '--package', 'basic'],
      ['import', file('notes.txt', 'channel list to follow\n')],
      ['import', EXAMPLE, '--origin', 'nope'],
      ['import', EXAMPLE, '--package', 'basic', '--force'],
      ['import', EXAMPLE],
      ['subscriber', 'packages', 'alice', '--add', 'basic'],
      ['lint'],
      ['lint', '--json'],
      ['sql', file('hand-edit.sql', HAND_EDIT)],
      ['import', file('renamed.m3u', renamed)],
      [
        'import',
        file(
          'malformed.m3u',
          '#EXTM3U\n#EXTINF:-1,No URL\n#EXTINF:-1,Good\nhttp://fl/live/good/index.m3u8\n#EXTINF:-1,Elsewhere\nrtmp://cdn/app\n',
        ),
      ],
      [
        'import',
        file('ids.m3u', '#EXTM3U\n#EXTINF:-1 tvg-id="news.hd",News HD\nhttp://cdn.example/channel?id=4\n'),
        '--stream-from',
        'tvg-id',
      ],
      ['render', 'alice', '--ip', '203.0.113.9'],
      ['render', 'alice', '--ip', '2001:db8::7', '--output', 'ts'],
      ['render', 'bob', '--ip', '203.0.113.9'],
      ['render', 'carol', '--ip', '203.0.113.9'],
      ['render', 'zed', '--ip', '203.0.113.9'],
      ['report', 'sharing'],
      ['sql', file('addresses.sql', ADDRESSES)],
      ['report', 'sharing'],
      ['report', 'sharing', '--json'],
    ];
    // The same steps in the same order, one backend after the other, each its own process.
    for (const argv of steps) {
      sqliteRuns.push(await lineupProcess(argv, sqliteEnv, ROOT));
      postgresRuns.push(await lineupProcess(argv, postgresEnv, ROOT));
      postgresAfter.push(await postgresRows(url));
    }
  }, 240_000);

  afterAll(() => rmSync(sqlite.dir, { recursive: true, force: true }));

  const at = (...argv: string[]) => steps.findIndex((step) => step.join(' ') === argv.join(' '));
  const run = (...argv: string[]) => postgresRuns[at(...argv)]!;
  /** The run of the last step typed so, where a step is typed twice. */
  const lastRun = (...argv: string[]) => {
    const index = steps.map((step) => step.join(' ')).lastIndexOf(argv.join(' '));
    return postgresRuns[index]!;
  };

  it('when the same steps run on an SQLite database and its PostgreSQL copy, then each prints the same, exits the same and writes the same rows', () => {
    for (const [index, argv] of steps.entries()) {
      const sqliteRun = sqliteRuns[index]!;
      const postgresRun = postgresRuns[index]!;
      expect.soft({ argv, code: postgresRun.code, stdout: masked(postgresRun.stdout), stderr: masked(postgresRun.stderr) }).toEqual({
        argv,
        code: sqliteRun.code,
        stdout: masked(sqliteRun.stdout),
        stderr: masked(sqliteRun.stderr),
      });
      expect(postgresRun.stderr).not.toContain(SECRET);
    }
    expect(postgresAfter.at(-1)).toEqual(sqliteRows(sqlite.dbPath));
  });

  it('when the steps ran, then they did what they say (the comparison is not of two failures)', () => {
    expect(run('lint')).toMatchObject({ code: 0, stderr: '' });
    expect(run('import', EXAMPLE, '--dry-run', '--package', 'basic').stdout).toContain(
      'dry run, would have: removed the demo lineup: 4 channels (Demo News, Demo Sport, Demo Movies, Demo Cartoons)',
    );
    expect(run('demo', 'remove').stdout).toBe(
      'removed the demo lineup: 4 channels (Demo News, Demo Sport, Demo Movies, Demo Cartoons) and the subscriber "demo"\n',
    );
    expect(postgresRuns[at('demo', 'remove') + 1]!.stdout).toBe('nothing to remove: no demo channels or demo subscriber left\n');
    expect(run('import', EXAMPLE, '--package', 'basic', '--force').stdout).toMatch(
      /applied with --force despite 3 new lint errors[\s\S]*example\.m3u: 23 added, 0 updated, 1 unchanged, 0 skipped\n$/,
    );
    expect(lastLine(run('import', EXAMPLE).stdout)).toMatch(/: 0 added, 0 updated, 24 unchanged, 0 skipped$/);
    expect(lastRun('lint')).toMatchObject({ code: 1, stderr: '' });
    expect(lastRun('lint').stdout).toMatch(/^error: duplicate-number: number 201 /m);
    expect(lastLine(run('import', join(sqlite.dir, 'renamed.m3u')).stdout)).toMatch(/: 0 added, 1 updated, 23 unchanged, 0 skipped$/);
    expect(run('render', 'alice', '--ip', '203.0.113.9').stdout).toMatch(/^#EXTM3U[\s\S]*,BBC Two HD\nhttp:\/\/origin\.test\/bbc-two\//);
    expect(run('render', 'carol', '--ip', '203.0.113.9')).toMatchObject({ code: 1, stdout: '' });
    expect(run('render', 'zed', '--ip', '203.0.113.9')).toEqual({ code: 1, stdout: '', stderr: 'lineup: no subscriber named "zed"\n' });
    expect(run('report', 'sharing', '--json').stdout).toContain('"ip": "2001:db8::1"');
    expect(lastRun('report', 'sharing').stdout).toMatch(/^1 subscription fetched from more addresses/);
  });

  it('when an import is refused, then it says why in one line naming the file (and the line), and writes nothing', () => {
    const before = postgresAfter[at('sql', join(sqlite.dir, 'operators.sql'))];
    for (const argv of [
      ['import', EXAMPLE, '--package', 'basic'],
      ['import', join(sqlite.dir, 'notes.txt')],
      ['import', EXAMPLE, '--origin', 'nope'],
    ]) {
      const refused = run(...argv);
      expect(refused.code, argv.join(' ')).toBe(1);
      expect(refused.stderr.split('\n'), argv.join(' ')).toHaveLength(2);
      expect(postgresAfter[at(...argv)], argv.join(' ')).toEqual(before);
    }
    expect(run('import', EXAMPLE, '--package', 'basic').stderr).toMatch(
      /^lineup: \S+example\.m3u: rolled back: it would add 3 lint errors/,
    );
    expect(run('import', join(sqlite.dir, 'notes.txt')).stderr).toMatch(/notes\.txt:1: not an M3U playlist/);
    expect(run('import', EXAMPLE, '--origin', 'nope').stderr).toBe(
      'lineup: --origin "nope": no such origin; add it to the origins table first\n',
    );
  });

  it('when the import and the demo removal write, then the audit trail names the CLI (and lineup sql its scripts)', async () => {
    const actors = await queryOn<{ actor: string }>(url, 'SELECT DISTINCT entity, action, actor FROM audit_log WHERE id > $1', [
      auditedBefore,
    ]);
    expect(actors).toEqual(
      expect.arrayContaining([
        { entity: 'channel', action: 'insert', actor: 'cli' },
        { entity: 'channel', action: 'update', actor: 'cli' },
        { entity: 'channel', action: 'delete', actor: 'cli' },
        { entity: 'subscriber', action: 'delete', actor: 'cli' },
      ]),
    );
    expect(actors.filter((row) => !['cli', 'sql'].includes(row.actor))).toEqual([]);
  });

  it('when db backup or db restore is given a PostgreSQL LINEUP_DB, then it says in one line what to use instead, without the password', async () => {
    for (const [argv, hint] of [
      [
        ['db', 'backup', '/tmp/x.db'],
        /^lineup: lineup db backup is SQLite's .*: back up with pg_dump -Fc .*lineup db copy --from URL --to FILE\n$/,
      ],
      [['db', 'restore', '/tmp/x.db'], /^lineup: lineup db restore is SQLite's .*pg_restore.*lineup db copy --from FILE --to URL/],
    ] as const) {
      const refused = await runCliCaptured([...argv], { LINEUP_DB: url });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toMatch(hint);
      expect(refused.stderr.split('\n')).toHaveLength(2);
      expect(refused.stderr).not.toContain(SECRET);
    }
  });
});

describePostgres('lineup import and render beside a node on PostgreSQL', () => {
  let url: string;
  const children: ChildProcess[] = [];
  let node: ServeProcess;
  let env: NodeJS.ProcessEnv;
  const { dir, cleanup } = tempDir();
  let aliceUrl: string;

  beforeAll(async () => {
    url = await freshDatabase();
    env = postgresNodeEnv(url, { TOKEN_BUCKET });
    expect((await lineupProcess(['init'], env, ROOT)).code).toBe(0);
    node = await serveCommandLine(['node', LINEUP_BIN, 'serve', '--demo'], env, children);
    for (const started = Date.now(); !node.output().includes('Demo subscriber "demo" created'); ) {
      expect(Date.now() - started, 'the demo seed').toBeLessThan(15_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const added = await lineupProcess(['subscriber', 'add', 'alice', '--days', '30'], env, ROOT);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    aliceUrl = new URL(lastLine(added.stdout)).pathname;
  }, 60_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    cleanup();
  });

  it('when the node seeded the demo and the first import runs, then the demo goes and the node serves the imported channels within a notification', async () => {
    expect((await fetchFrom(node.url + aliceUrl)).body).toContain('Demo News');
    const imported = await lineupProcess(['import', EXAMPLE], env, ROOT);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toContain('removed the demo lineup: 4 channels');
    const started = performance.now();
    for (;;) {
      const { body } = await fetchFrom(node.url + aliceUrl);
      if (body.includes('BBC One') && !body.includes('Demo News')) break;
      expect(performance.now() - started, 'the node to serve the import').toBeLessThan(5000);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    console.log(`the node served the imported lineup ${(performance.now() - started).toFixed(1)} ms after lineup import returned`);
  });

  it('when lineup render names the address a playlist is fetched from, then it prints the bytes the node serves there in the same bucket', async () => {
    // Two tries: a bucket may end between the two.
    for (let attempt = 0; ; attempt++) {
      const served = await fetchFrom(node.url + aliceUrl);
      const rendered = await lineupProcess(['render', 'alice', '--ip', '127.0.0.1'], env, ROOT);
      expect(rendered).toMatchObject({ code: 0, stderr: '' });
      if (rendered.stdout === served.body || attempt === 1) {
        expect(rendered.stdout).toBe(served.body);
        expect(rendered.stdout).toContain('BBC One');
        return;
      }
    }
  });

  it('when another writer holds the writers\u2019 lock, then the import waits for it, and commits once it is released', async () => {
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [SUBSCRIBER_WRITES_LOCK]);
      const m3u = join(dir, 'late.m3u');
      writeFileSync(m3u, '#EXTM3U\n#EXTINF:-1 tvg-chno="900",Late News\nhttp://fl/late/index.m3u8\n');
      const importing = lineupProcess(['import', m3u], env, ROOT);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await queryOn(url, "SELECT count(*)::int AS n FROM channels WHERE stream = 'late'")).toEqual([{ n: 0 }]);
      await holder.query('COMMIT');
      expect(await importing).toMatchObject({ code: 0, stderr: '' });
      expect(await queryOn(url, "SELECT name FROM channels WHERE stream = 'late'")).toEqual([{ name: 'Late News' }]);
    } finally {
      await holder.end();
    }
  });
});
