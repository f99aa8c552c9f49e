import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { LINEUP_BIN } from '../build-once.js';
import { databasesUnder, lineupFrom, serveCommandLine } from '../helpers/command-line.js';
import { type CliResult, fetchFrom, lastLine, runCliCaptured, TEST_KEY, tempDir } from '../helpers/lineup.js';
import { expectAllTokensValid } from './support.js';

const ROOT = resolve(import.meta.dirname, '../..');

const cleanups: (() => unknown)[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function scratch(): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  return dir;
}

/** The CLI in this process, as `runCli` gets it from bin/lineup.js, with Lineup's home at `home`. */
async function cliAt(home: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { env, home, stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

const oneLine = (text: string) => text.endsWith('\n') && text.trimEnd().split('\n').length === 1;

function usernames(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT username FROM subscribers ORDER BY username').pluck().all() as string[];
  } finally {
    db.close();
  }
}

describe('relative paths', () => {
  it('when `subscriber add` runs from a subdirectory with a relative LINEUP_DB, then it reaches the server database and creates none', () => {
    // Inside the checkout (node_modules is ignored by git), so that the relative path climbs no
    // `..`: from /tmp, a path like ../../tmp/x/lineup.db resolves to the right file from many
    // directories, and the test could not tell the wrong resolution from the right one.
    mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
    const dir = mkdtempSync(join(ROOT, 'node_modules/.cache/lineup-test-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, 'lineup.db');
    // What the operator wrote in the environment: a path relative to Lineup's home (the checkout).
    const env = { LINEUP_DB: relative(ROOT, dbPath), SECURETOKEN_KEY: TEST_KEY, PUBLIC_URL: 'http://lineup.test' };
    expect(env.LINEUP_DB).not.toMatch(/\.\./);
    expect(lineupFrom(dir, ['init'], env).code).toBe(0);
    const data = join(dir, 'data');
    mkdirSync(join(data, 'deeper'), { recursive: true });
    // Had the path been taken from the current directory, this is the database it would have made.
    const wrong = resolve(data, env.LINEUP_DB);

    const added = lineupFrom(data, ['subscriber', 'add', 'zed'], env);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(lastLine(added.stdout)).toMatch(/^http:\/\/lineup\.test\/playlist\//);
    const listed = lineupFrom(join(data, 'deeper'), ['subscriber', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { username: string }[]).map((s) => s.username)).toEqual(['zed']);

    expect(usernames(dbPath)).toEqual(['zed']);
    expect(existsSync(wrong)).toBe(false);
    expect(databasesUnder(dir)).toEqual(['lineup.db']);
  });

  it('when LINEUP_DB and EPG_FILE are relative, then both are taken from the home directory', async () => {
    const home = scratch();
    const init = await cliAt(home, ['init'], { LINEUP_DB: 'state/lineup.db' });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(join(home, 'state/lineup.db'));
    expect(existsSync(join(home, 'state/lineup.db'))).toBe(true);
    const { loadConfig } = await import('../../src/config.js');
    expect(loadConfig({ EPG_FILE: 'guide/epg.xml' }, home).epgFile).toBe(join(home, 'guide/epg.xml'));
    expect(loadConfig({ LINEUP_DB: '/srv/lineup.db' }, home).dbPath).toBe('/srv/lineup.db');
  });
});

describe('admin commands never create a database', () => {
  it.each([
    [['subscriber', 'list']],
    [['subscriber', 'add', 'zed']],
    [['sql', 'data/examples/channels.sql']],
    [['import', 'playlists/example.m3u']],
    [['prune', '--dry-run']],
    [['lint']],
    [['render', 'zed', '--ip', '10.0.0.1']],
  ])(
    'when %j runs where LINEUP_DB names no database, then exit 1 with one line naming the path and LINEUP_DB, and nothing is created',
    async (argv) => {
      const dir = scratch();
      const dbPath = join(dir, 'nowhere', 'lineup.db');
      const result = await runCliCaptured(argv, { LINEUP_DB: dbPath, SECURETOKEN_KEY: TEST_KEY });
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toBe(true);
      expect(result.stderr).toContain('LINEUP_DB');
      expect(result.stderr).toContain(dbPath);
      expect(result.stderr).toMatch(/lineup init/);
      expect(result.stdout).toBe('');
      expect(readdirSync(dir)).toEqual([]);
    },
  );

  it('when `lineup init` runs twice, then it creates and migrates the database once, prints its path each time, and stores no key', async () => {
    const dir = scratch();
    const env = { LINEUP_DB: join(dir, 'new', 'lineup.db') };
    const first = await runCliCaptured(['init'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`Created the database: ${env.LINEUP_DB}\n`);
    const added = await runCliCaptured(['subscriber', 'add', 'alice'], env);
    expect(added.code).toBe(0);
    const second = await runCliCaptured(['init'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`Database up to date: ${env.LINEUP_DB}\n`);
    expect(usernames(env.LINEUP_DB)).toEqual(['alice']);
    const db = new Database(env.LINEUP_DB, { readonly: true });
    const settings = db.prepare('SELECT name FROM settings').pluck().all();
    const migrated = db.pragma('user_version', { simple: true });
    db.close();
    expect(settings).not.toContain('securetoken_key');
    expect(settings).not.toContain('token_bucket_secret');
    expect(migrated).toBeGreaterThan(0);
  });
});

describe('one env file for the server and the CLI', () => {
  it('when the server starts with `--env-file`, then commands given the same file reach its database and sign like it', async () => {
    const dir = scratch();
    const envFile = join(dir, 'lineup.env');
    writeFileSync(
      envFile,
      [
        '# the server and every command read this',
        `LINEUP_DB=${join(dir, 'lineup.db')}`,
        'SECURETOKEN_KEY="file key # not a comment"',
        'export ORIGIN_URL=http://origin.from-file.test',
        'PUBLIC_URL=http://lineup.test  # where subscribers reach it',
        '',
      ].join('\n'),
    );
    const served = await serveCommandLine(
      ['node', LINEUP_BIN, '--env-file', envFile, 'serve'],
      { HOST: '127.0.0.1', PORT: '0', PRUNE_CRON: 'off', LOG_LEVEL: 'info' },
      children,
    );
    expect(served.output()).toContain(`"envFile":"${envFile}"`);
    const script = join(dir, 'one.sql');
    writeFileSync(script, "INSERT INTO channels (stream, name) VALUES ('live/one', 'One');");
    // The process environment here holds none of it: the file alone says where and how.
    expect((await runCliCaptured(['sql', script, '--env-file', envFile], {})).code).toBe(0);
    const added = await runCliCaptured(['subscriber', 'add', 'alice', `--env-file=${envFile}`], {});
    expect(added.code).toBe(0);
    const rendered = await runCliCaptured(['--env-file', envFile, 'render', 'alice', '--ip', '10.0.0.7'], {});
    expect(rendered.stderr).toBe('');
    expect(rendered.code).toBe(0);
    const [entry] = expectAllTokensValid(rendered.stdout, '10.0.0.7', 'file key # not a comment');
    expect(entry!.url).toMatch(/^http:\/\/origin\.from-file\.test\/live\/one\//);
    const { pathname } = new URL(lastLine(added.stdout));
    const served200 = await fetchFrom(`${served.url}${pathname}`);
    expect(served200.status).toBe(200);
    expectAllTokensValid(served200.body, '127.0.0.1', 'file key # not a comment');
  });

  it("when lineup.env is in Lineup's home, then it is read without --env-file, and the process environment wins over it", async () => {
    const home = scratch();
    writeFileSync(join(home, 'lineup.env'), 'LINEUP_DB=state/lineup.db\nPUBLIC_URL=http://from-file.test\nORIGIN_URL=http://origin.test\n');
    expect((await cliAt(home, ['init'])).code).toBe(0);
    expect(existsSync(join(home, 'state/lineup.db'))).toBe(true);
    const fromFile = await cliAt(home, ['subscriber', 'add', 'alice']);
    expect(lastLine(fromFile.stdout)).toMatch(/^http:\/\/from-file\.test\/playlist\//);
    const overridden = await cliAt(home, ['subscriber', 'add', 'bob'], { PUBLIC_URL: 'http://from-env.test' });
    expect(lastLine(overridden.stdout)).toMatch(/^http:\/\/from-env\.test\/playlist\//);
    // Empty counts as unset, as everywhere in the configuration: the file's value stands.
    const empty = await cliAt(home, ['subscriber', 'add', 'carol'], { PUBLIC_URL: '' });
    expect(lastLine(empty.stdout)).toMatch(/^http:\/\/from-file\.test\/playlist\//);
  });

  it('when the env file has a line that is not NAME=value, then exit 1 with one line naming the file and line, and no value', async () => {
    const dir = scratch();
    const envFile = join(dir, 'broken.env');
    writeFileSync(envFile, 'LINEUP_DB=x.db\n\nSECURETOKEN_KEY hunter2-secret\n');
    const result = await runCliCaptured(['subscriber', 'list', '--env-file', envFile], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`lineup: ${envFile}:3: not a NAME=value line\n`);
  });

  it('when --env-file names a missing file, or none, then exit 2 with one line naming it', async () => {
    const missing = await runCliCaptured(['--env-file', 'nowhere/lineup.env', 'subscriber', 'list'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('lineup: --env-file: nowhere/lineup.env: no such file\n');
    const none = await runCliCaptured(['subscriber', 'list', '--env-file'], {});
    expect(none.code).toBe(2);
    expect(oneLine(none.stderr)).toBe(true);
    expect(none.stderr).toContain('--env-file');
  });
});
