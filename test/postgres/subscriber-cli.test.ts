import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PostgresSubscriberStore as Store } from '../../src/db/pg/subscriber-store.js';
import type { SyncPostgresClient as Client } from '../../src/db/pg/sync-client.js';
import { freePorts } from '../e2e/harness/ports.js';
import { lineupProcess } from '../helpers/command-line.js';
import type { CliResult } from '../helpers/lineup.js';
import { tempDir } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, queryOn } from '../helpers/postgres.js';

const ROOT = join(import.meta.dirname, '../..');
/** A password in the URL: no output may show it. */
const SECRET = 'pg-secret-word';

/** The same packages on both backends, through `lineup sql`, as an operator makes them. */
const PACKAGES_SQL = "INSERT INTO packages (name) VALUES ('gold'), ('silver'), ('bronze');\n";

/**
 * What changes from run to run whatever the backend: generated keys and passwords, and the
 * creation time (the database's clock). Expiry dates are given with --until, so they stay.
 */
function masked(text: string): string {
  return text
    .replace(/\/playlist\/[A-Za-z0-9_-]+\.m3u/g, '/playlist/KEY.m3u')
    .replace(/(, password )[A-Za-z0-9._~-]+/g, '$1PASSWORD')
    .replace(/(new XC password for \w+: the old one no longer works\n)[A-Za-z0-9._~-]+/, '$1PASSWORD')
    .replace(/created \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/g, 'created TIME UTC')
    .replace(/"createdAt": "[^"]+"/g, '"createdAt": "TIME"');
}

/**
 * Two playlist addresses of alice's, seen at the start of today (UTC; within `show`'s last 24 h),
 * in SQL both backends run (PostgreSQL through lineup_compat's datetime).
 */
const ADDRESSES_SQL = `INSERT INTO playlist_ips (subscriber_id, ip, first_seen, last_seen, buckets)
  SELECT id, ip, datetime('now', 'start of day'), datetime('now', 'start of day'), 2
  FROM subscribers, (SELECT '203.0.113.9' AS ip UNION ALL SELECT '2001:db8::1') AS addresses WHERE username = 'alice';
`;

/** The subscriber's life, step by step: each run on both backends, in this order. */
const life = (addressesFile: string): string[][] => [
  ['subscriber', 'add', 'alice', '--until', '2031-05-01', '--package', 'gold', '--max-connections', '2', '--note', 'front desk'],
  ['subscriber', 'add', 'bob', '--until', '2031-06-01 12:00:00', '--package', 'silver', '--package', 'gold'],
  ['subscriber', 'add', 'carol', '--until', '2020-01-01', '--allow-past'],
  ['sql', addressesFile],
  ['subscriber', 'show', 'alice'],
  ['subscriber', 'show', 'alice', '--json'],
  ['subscriber', 'show', 'bob', '--json'],
  ['subscriber', 'list'],
  ['subscriber', 'list', '--json'],
  ['subscriber', 'list', '--expired'],
  ['subscriber', 'renew', 'alice', '--until', '2032-01-01'],
  ['subscriber', 'renew', 'alice', '--days', '10'],
  ['subscriber', 'disable', 'alice'],
  ['subscriber', 'list'],
  ['subscriber', 'enable', 'alice'],
  ['subscriber', 'packages', 'alice', '--add', 'silver', '--add', 'bronze', '--remove', 'gold'],
  ['subscriber', 'packages', 'alice'],
  ['subscriber', 'rotate', 'alice'],
  ['subscriber', 'rotate-password', 'alice'],
  ['subscriber', 'rotate-password', 'alice', '--password', 'chosen-pass.1'],
  ['subscriber', 'show', 'alice', '--reveal'],
  ['subscriber', 'remove', 'bob'],
  ['subscriber', 'list'],
  ['prune', '--confirm-clock'],
  ['subscriber', 'restore', 'carol'],
  ['subscriber', 'list', '--expired'],
  // Refusals: each one line, the same on both.
  ['subscriber', 'add', 'alice', '--days', '5'],
  ['subscriber', 'add', 'dave', '--package', 'platinum'],
  ['subscriber', 'packages', 'alice', '--add', 'platinum'],
  ['subscriber', 'show', 'zed'],
  ['subscriber', 'renew', 'zed', '--days', '1'],
  ['subscriber', 'disable', 'bob'],
  ['subscriber', 'restore', 'zed'],
  ['subscriber', 'restore', 'alice'],
];

describePostgres('lineup subscriber on PostgreSQL', () => {
  let url: string;
  let sqliteEnv: NodeJS.ProcessEnv;
  let postgresEnv: NodeJS.ProcessEnv;
  let cleanup: () => void;
  let LIFE: string[][] = [];
  const sqliteRuns: CliResult[] = [];
  const postgresRuns: CliResult[] = [];

  beforeAll(async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    url = await freshDatabase();
    const common = { PUBLIC_URL: 'https://tv.example.net', PRUNE_GRACE_DAYS: '7' };
    sqliteEnv = { ...common, LINEUP_DB: join(temp.dir, 'lineup.db'), CREDENTIALS_KEY_FILE: join(temp.dir, 'sqlite.key') };
    postgresEnv = { ...common, LINEUP_DB: url, CREDENTIALS_KEY_FILE: join(temp.dir, 'postgres.key') };
    const packages = join(temp.dir, 'packages.sql');
    writeFileSync(packages, PACKAGES_SQL);
    const addresses = join(temp.dir, 'addresses.sql');
    writeFileSync(addresses, ADDRESSES_SQL);
    LIFE = life(addresses);
    for (const env of [sqliteEnv, postgresEnv]) {
      for (const argv of [['init'], ['sql', packages]]) {
        const run = await lineupProcess(argv, env, ROOT);
        expect(run.stderr, argv.join(' ')).toBe('');
      }
    }
    // The same steps, in the same order, one backend after the other (each step its own process).
    for (const argv of LIFE) {
      sqliteRuns.push(await lineupProcess(argv, sqliteEnv, ROOT));
      postgresRuns.push(await lineupProcess(argv, postgresEnv, ROOT));
    }
  }, 120_000);

  afterAll(() => cleanup());

  it('when the same subscriber life runs on SQLite and PostgreSQL, then every step prints the same, exits the same, and says the same one line when refused', () => {
    for (const [at, argv] of LIFE.entries()) {
      const sqlite = sqliteRuns[at]!;
      const postgres = postgresRuns[at]!;
      const stdout = masked(postgres.stdout);
      expect({ argv, code: postgres.code, stdout, stderr: postgres.stderr }).toEqual({
        argv,
        code: sqlite.code,
        stdout: masked(sqlite.stdout),
        stderr: sqlite.stderr,
      });
    }
  });

  it('when the life runs, then the steps did what they say (the comparison is not of two failures)', () => {
    const byStep = (...argv: string[]) => postgresRuns[LIFE.findIndex((step) => step.join(' ') === argv.join(' '))]!;
    for (const [at, run] of postgresRuns
      .slice(
        0,
        LIFE.findIndex((step) => step[2] === 'alice' && step[4] === '5'),
      )
      .entries()) {
      expect(run, LIFE[at]!.join(' ')).toMatchObject({ code: 0, stderr: '' });
    }
    expect(byStep('subscriber', 'renew', 'alice', '--days', '10').stdout).toContain('expires 2032-01-11 23:59:59 UTC');
    expect(byStep('subscriber', 'packages', 'alice').stdout).toContain('packages bronze,silver,');
    expect(byStep('subscriber', 'show', 'alice', '--reveal').stdout).toContain('password chosen-pass.1');
    expect(byStep('subscriber', 'show', 'alice').stdout).toContain('streamed from, last 24 h (auth backend): none\n');
    expect(byStep('subscriber', 'show', 'alice').stdout).toMatch(
      /playlist fetched from, last 24 h: 2 addresses\n.*\n2001:db8::1 .*\n203\.0\.113\.9 /,
    );
    expect(byStep('prune', '--confirm-clock').stdout).toMatch(/^deleted 1 subscriber /);
    expect(byStep('subscriber', 'restore', 'carol').stdout).toMatch(/^restored carol: expired, expires 2020-01-01 23:59:59 UTC/);
    expect(byStep('subscriber', 'add', 'alice', '--days', '5')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'lineup: subscriber "alice" already exists\n',
    });
    expect(byStep('subscriber', 'add', 'dave', '--package', 'platinum')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'lineup: no package named "platinum"\n',
    });
    expect(byStep('subscriber', 'show', 'zed')).toEqual({ code: 1, stdout: '', stderr: 'lineup: no subscriber named "zed"\n' });
  });

  it('when alice is rotated, then her old key is retired as rotated, and a removed or pruned key as removed', async () => {
    expect(
      await queryOn(
        url,
        `SELECT r.reason, s.username FROM retired_keys r LEFT JOIN subscribers s ON s.id = r.subscriber_id ORDER BY r.reason, s.username`,
      ),
    ).toEqual([
      { reason: 'removed', username: null }, // bob's
      { reason: 'rotated', username: 'alice' },
    ]);
  });

  it('when the commands write, then the audit trail names the CLI and the change log holds each subscriber written', async () => {
    const actors = await queryOn<{ actor: string }>(url, "SELECT DISTINCT actor FROM audit_log WHERE entity = 'subscriber'");
    expect(actors).toEqual([{ actor: 'cli' }]);
    const logged = await queryOn<{ n: number }>(url, 'SELECT count(DISTINCT subscriber_id)::int AS n FROM subscriber_changes');
    expect(logged[0]!.n).toBeGreaterThanOrEqual(4); // alice, bob, carol, carol restored
  });

  it('when lineup subscriber disable runs, then the change log gets a row and every listening node hears of it', async () => {
    const listener = new pg.Client({ connectionString: url });
    await listener.connect();
    try {
      const heard = new Promise<string>((resolve) => listener.on('notification', (message) => resolve(message.payload ?? '')));
      await listener.query('LISTEN lineup_changes');
      const [alice] = await queryOn<{ id: number }>(url, "SELECT id::int FROM subscribers WHERE username = 'alice'");
      const before = await queryOn<{ n: number }>(url, 'SELECT count(*)::int AS n FROM subscriber_changes WHERE subscriber_id = $1', [
        alice!.id,
      ]);
      const run = await lineupProcess(['subscriber', 'disable', 'alice'], postgresEnv, ROOT);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(await heard).toMatch(new RegExp(`^S \\d+ ${alice!.id}$`));
      const after = await queryOn<{ n: number }>(url, 'SELECT count(*)::int AS n FROM subscriber_changes WHERE subscriber_id = $1', [
        alice!.id,
      ]);
      expect(after[0]!.n).toBe(before[0]!.n + 1);
    } finally {
      await listener.end();
    }
  });
});

describePostgres('two renewals at once on PostgreSQL', () => {
  it('when two nodes renew the same subscriber at once, then both renewals count, as on SQLite', async () => {
    const url = await freshDatabase();
    const env = { LINEUP_DB: url, CREDENTIALS_KEY_FILE: join(tempDir().dir, 'key') };
    expect((await lineupProcess(['init'], env, ROOT)).code).toBe(0);
    expect((await lineupProcess(['subscriber', 'add', 'alice', '--until', '2031-01-01'], env, ROOT)).code).toBe(0);
    // A session holding alice's row makes both renewals reach their write before either commits:
    // without a lock around each one's read and write, both would read the same expiry.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("UPDATE subscribers SET note = 'held' WHERE username = 'alice'");
      const renewals = [1, 2].map(() => lineupProcess(['subscriber', 'renew', 'alice', '--days', '10'], env, ROOT));
      for (let waited = 0; waited < 15_000; waited += 20) {
        // Asked outside the holder's transaction, which would see one snapshot of the activity throughout.
        const [{ waiting }] = (await queryOn<{ waiting: number }>(
          url,
          "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )) as [{ waiting: number }];
        if (waiting === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await holder.query('ROLLBACK');
      for (const run of await Promise.all(renewals)) expect(run, run.stderr).toMatchObject({ code: 0, stderr: '' });
    } finally {
      await holder.end();
    }
    expect(await queryOn(url, "SELECT expires_at FROM subscribers WHERE username = 'alice'")).toEqual([
      { expires_at: '2031-01-21 23:59:59' },
    ]);
  });
});

describePostgres('a subscriber held by a transaction left open', () => {
  it('when another session holds the row for longer than 5 s, then the command gives up with one line and writes nothing', async () => {
    const url = await freshDatabase();
    const env = { LINEUP_DB: url, CREDENTIALS_KEY_FILE: join(tempDir().dir, 'key') };
    expect((await lineupProcess(['init'], env, ROOT)).code).toBe(0);
    expect((await lineupProcess(['subscriber', 'add', 'alice', '--until', '2031-01-01'], env, ROOT)).code).toBe(0);
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("UPDATE subscribers SET note = 'held' WHERE username = 'alice'");
      expect(await lineupProcess(['subscriber', 'disable', 'alice'], env, ROOT)).toEqual({
        code: 1,
        stdout: '',
        stderr:
          'lineup: another session has held what this command writes for over 5 s (a transaction left open?): try again once it ends\n',
      });
    } finally {
      await holder.end();
    }
    expect(await queryOn(url, "SELECT enabled FROM subscribers WHERE username = 'alice'")).toEqual([{ enabled: 1 }]);
  });
});

describePostgres('lineup subscriber on a PostgreSQL database it cannot use', () => {
  it('when the server cannot be reached, then one line names it without the password', async () => {
    const [port] = await freePorts(1);
    const run = await lineupProcess(['subscriber', 'list'], { LINEUP_DB: `postgres://lineup:${SECRET}@127.0.0.1:${port}/lineup` }, ROOT);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^lineup: cannot reach postgres:\/\/lineup:\*\*\*@127\.0\.0\.1:\d+\/lineup: connect ECONNREFUSED [^\n]*\n$/);
    expect(run.stderr).not.toContain(SECRET);
  });

  it('when the database has no Lineup schema yet, then one line says to run lineup init', async () => {
    const empty = new URL(await freshDatabase());
    empty.password = SECRET;
    const run = await lineupProcess(['subscriber', 'add', 'alice'], { LINEUP_DB: empty.toString() }, ROOT);
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toMatch(/^lineup: LINEUP_DB: postgres:\/\/postgres:\*\*\*@[^ ]+ holds no Lineup schema: run lineup init\n$/);
  });
});

describePostgres('the PostgreSQL subscriber store over the synchronous connection', () => {
  let url: string;
  let db: Client;
  let store: Store;

  beforeAll(async () => {
    url = await freshDatabase();
    expect((await lineupProcess(['init'], { LINEUP_DB: url }, ROOT)).code).toBe(0);
    await queryOn(url, "INSERT INTO packages (name) VALUES ('gold')");
    // The built modules: the connection's worker thread is a file under dist/.
    const { SyncPostgresClient } = (await import(
      join(ROOT, 'dist/db/pg/sync-client.js')
    )) as typeof import('../../src/db/pg/sync-client.js');
    const { PostgresSubscriberStore } = (await import(
      join(ROOT, 'dist/db/pg/subscriber-store.js')
    )) as typeof import('../../src/db/pg/subscriber-store.js');
    db = SyncPostgresClient.connect(url);
    store = new PostgresSubscriberStore(db, { days: 90, clock: () => Date.now() / 1000 });
    store.add({
      username: 'alice',
      key: { hash: 'a'.repeat(64), sealed: 'sealed-key' },
      xcPassword: { hash: 'b'.repeat(64), sealed: 'sealed-password' },
      expiresAt: '2031-01-01 00:00:00',
      packages: ['gold'],
      maxConnections: 1,
    });
  });

  afterAll(() => db?.close());

  it('when a change fails at its last step (an unknown package after the flag was written), then nothing of it is written', async () => {
    expect(() => store.change('alice', { enabled: false, note: 'gone', packages: ['platinum'] })).toThrow(/^no package named "platinum"$/);
    expect(store.get('alice')).toMatchObject({ enabled: true, note: '', packages: ['gold'] });
    expect(await queryOn(url, "SELECT enabled, note FROM subscribers WHERE username = 'alice'")).toEqual([{ enabled: 1, note: '' }]);
  });

  it('when a nested transaction fails, then only its own part is undone, and the outer one commits', async () => {
    store.transaction(() => {
      store.setExpiry('alice', '2032-02-02 00:00:00');
      expect(() =>
        store.transaction(() => {
          store.setEnabled('alice', false);
          throw new Error('inner step failed');
        }),
      ).toThrow('inner step failed');
    });
    expect(await queryOn(url, "SELECT expires_at, enabled FROM subscribers WHERE username = 'alice'")).toEqual([
      { expires_at: '2032-02-02 00:00:00', enabled: 1 },
    ]);
  });

  it('when PostgreSQL refuses a statement, then the error carries its SQLSTATE and nothing of the transaction stays', async () => {
    let caught: unknown;
    try {
      db.transaction(() => {
        db.query("UPDATE subscribers SET note = 'half' WHERE username = 'alice'");
        db.query('INSERT INTO packages (name) VALUES ($1)', ['gold']);
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ name: 'PostgresError', code: '23505', constraint: 'packages_name_key' });
    expect(await queryOn(url, "SELECT note FROM subscribers WHERE username = 'alice'")).toEqual([{ note: '' }]);
  });
});
