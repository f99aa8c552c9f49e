import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { lastLine, runCliCaptured, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { applySql, expectAllTokensValid } from './support.js';

let lineup: TestLineup;
beforeAll(async () => {
  lineup = await startTestLineup();
  await applySql(lineup, "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1), ('live/two', 'Two', 2);");
});
afterAll(() => lineup.close());

const ROOT = join(import.meta.dirname, '../..');

const oneLine = (text: string) => text.endsWith('\n') && text.trimEnd().split('\n').length === 1;

describe('help and usage errors', () => {
  it.each(commands.map((command) => command.name))('when `lineup %s --help` runs, then it exits 0 with its synopsis', async (name) => {
    const result = await lineup.cli([name, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`lineup ${name}`);
    expect(result.stderr).toBe('');
  });

  it('when `lineup --help` runs, then it lists every command and exits 0', async () => {
    const result = await lineup.cli(['--help']);
    expect(result.code).toBe(0);
    for (const command of commands) expect(result.stdout).toContain(command.name);
  });

  it('when the command is unknown, then exit 2 with one stderr line naming it', async () => {
    const result = await lineup.cli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toBe(true);
    expect(result.stderr).toContain('frobnicate');
  });

  it.each([
    [['prune', '--bogus'], '--bogus'],
    [['sql', '--frob', 'x.sql'], '--frob'],
    [['subscriber', 'add', 'zed', '--dayz', '3'], '--dayz'],
    [['subscriber', 'frob', 'zed'], 'frob'],
    [['subscriber', 'renew', 'zed', '--json'], '--json'],
    [['subscriber', 'add', 'zed', '--days', 'ten'], '--days'],
    [['render', 'zed', '--ip', 'not-an-ip'], '--ip'],
    [['render', 'zed'], '--ip'],
  ])('when given %j, then exit 2 with one stderr line naming %s', async (argv, named) => {
    const result = await lineup.cli(argv);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toBe(true);
    expect(result.stderr).toContain(named);
    expect(result.stdout).toBe('');
  });

  it('when a subscriber does not exist, then exit 1 with one stderr line naming it', async () => {
    const result = await lineup.cli(['subscriber', 'disable', 'nobody-here']);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toBe(true);
    expect(result.stderr).toContain('nobody-here');
  });
});

describe('subscriber commands', () => {
  it('when `subscriber add` runs, then the playlist URL stands alone on the last stdout line', async () => {
    const result = await lineup.cli(['subscriber', 'add', 'alice', '--days', '30']);
    expect(result.code).toBe(0);
    expect(lastLine(result.stdout)).toMatch(/^http:\/\/lineup\.test\/playlist\/[A-Za-z0-9_-]{22,}\.m3u$/);
  });

  it('when the same username is added twice, then exit 1 naming it and nothing changes', async () => {
    await lineup.cli(['subscriber', 'add', 'twice']);
    const result = await lineup.cli(['subscriber', 'add', 'twice']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('twice');
  });

  it('when `subscriber list --json` runs, then stdout parses as JSON with the subscribers and no key', async () => {
    const result = await lineup.cli(['subscriber', 'list', '--json']);
    expect(result.code).toBe(0);
    const list = JSON.parse(result.stdout) as { username: string; expiresAt: string }[];
    expect(list.map((s) => s.username)).toContain('alice');
    expect(result.stdout).not.toMatch(/key_?hash/i);
  });

  it('when `render USER --ip ADDR` runs, then it prints a playlist whose tokens verify for ADDR', async () => {
    const result = await lineup.cli(['render', 'alice', '--ip', '::ffff:198.51.100.23']);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith('#EXTM3U\n')).toBe(true);
    expect(expectAllTokensValid(result.stdout, '198.51.100.23')).toHaveLength(2);
  });

  it('when `render --output ts` runs, then the URLs are MPEG-TS', async () => {
    const result = await lineup.cli(['render', 'alice', '--ip', '10.1.2.3', '--output', 'ts']);
    expect(result.code).toBe(0);
    expect(expectAllTokensValid(result.stdout, '10.1.2.3').every((entry) => entry.url.includes('/mpegts?'))).toBe(true);
  });
});

describe('bad configuration', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['TOKEN_TTL', '-1'],
    ['TOKEN_DESYNC', 'soon'],
    ['TRUST_PROXY', 'nonsense'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['IP_BINDING', 'maybe'],
    ['PRUNE_CRON', 'every tuesday'],
    ['PRUNE_GRACE_DAYS', '-3'],
    ['ORIGIN_URL', 'ftp://x'],
    ['LOG_LEVEL', 'loud'],
    ['WORKERS', '0'],
    ['WORKERS', 'many'],
    ['WORKERS', '65'],
  ])('when %s=%s, then loadConfig throws a ConfigError naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}\\b`));
  });

  it('when the environment is empty, then the documented defaults apply', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: '::',
      tokenTtl: 10800,
      tokenDesync: 300,
      ipBinding: 'strict',
      pruneGraceDays: 7,
    });
    // Relative paths are taken from Lineup's home (this checkout), not the current directory.
    expect(config.dbPath).toBe(join(ROOT, 'data/lineup.db'));
    expect(config.epgFile).toBe(join(ROOT, 'data/epg.xml'));
  });

  it.each([
    ['PORT', 'abc'],
    ['IP_BINDING', 'maybe'],
    ['TRUST_PROXY', 'nonsense'],
  ])('when `lineup serve` starts with %s=%s, then exit 1 with one stderr line naming the variable', async (name, value) => {
    const result = await runCliCaptured(['serve'], { ...lineup.env, [name]: value });
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toBe(true);
    expect(result.stderr).toContain(name);
  });

  it('when a bad value looks like a secret, then the error names the variable but does not echo the value', () => {
    expect(() => loadConfig({ TOKEN_TTL: 'hunter2-secret' })).toThrow(/^TOKEN_TTL/);
    try {
      loadConfig({ TOKEN_TTL: 'hunter2-secret' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
