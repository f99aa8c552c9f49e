import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchFrom, lastLine, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addSubscriber, parsePlaylist } from './support.js';

const EXAMPLE_SQL = new URL('../../data/examples/channels.sql', import.meta.url).pathname;
const EXAMPLE_M3U = new URL('../../playlists/example.m3u', import.meta.url).pathname;
const DEMO_NAMES = ['Demo News', 'Demo Sport', 'Demo Movies', 'Demo Cartoons'];
const REMOVED_ALL = 'removed the demo lineup: 4 channels (Demo News, Demo Sport, Demo Movies, Demo Cartoons) and the subscriber "demo"';
const REMOVED_BY_ITSELF = `${REMOVED_ALL}; lineup demo remove does this by hand\n`;

// The real first start: housekeeping seeds the demo lineup and subscriber on the empty database.
let lineup: TestLineup;
beforeEach(async () => {
  lineup = await startTestLineup({ seedDemo: true });
  expect(lineup.demoUrl).toBeDefined();
});
afterEach(async () => {
  await lineup.close();
});

function query<T>(statement: string): T[] {
  const db = new Database(lineup.dbPath, { readonly: true });
  try {
    return db.prepare(statement).pluck().all() as T[];
  } finally {
    db.close();
  }
}

const channelNames = () => query<string>('SELECT name FROM channels ORDER BY id');
const usernames = () => query<string>('SELECT username FROM subscribers ORDER BY id');

function script(name: string, text: string): string {
  const file = join(lineup.dir, name);
  writeFileSync(file, text);
  return file;
}

describe('lineup demo remove', () => {
  it('when the operator runs it after the first start, then the demo channels and subscriber go, it says what went, and the demo URL answers 410', async () => {
    const result = await lineup.cli(['demo', 'remove']);
    expect(result).toEqual({ code: 0, stdout: `${REMOVED_ALL}\n`, stderr: '' });
    expect(channelNames()).toEqual([]);
    expect(usernames()).toEqual([]);
    expect((await fetchFrom(onServer(lineup, lineup.demoUrl!))).status).toBe(410);
  });

  it('when it is run a second time, then it says there is nothing to remove and exits 0', async () => {
    await lineup.cli(['demo', 'remove']);
    const again = await lineup.cli(['demo', 'remove']);
    expect(again).toEqual({ code: 0, stdout: 'nothing to remove: no demo channels or demo subscriber left\n', stderr: '' });
  });

  it('when the operator has changed a demo channel or put one in a package, then those stay and the rest goes', async () => {
    const db = new Database(lineup.dbPath);
    db.exec(`UPDATE channels SET name = 'Sport' WHERE stream = 'sport';
             INSERT INTO packages (name) VALUES ('kids');
             INSERT INTO package_channels SELECT p.id, c.id FROM packages p, channels c WHERE p.name = 'kids' AND c.stream = 'kids/cartoons';`);
    db.close();
    const result = await lineup.cli(['demo', 'remove']);
    expect(result.stdout).toBe('removed the demo lineup: 2 channels (Demo News, Demo Movies) and the subscriber "demo"\n');
    expect(channelNames()).toEqual(['Sport', 'Demo Cartoons']);
  });

  it('when a subscriber named demo was made by the operator, then it is not taken for the demo', async () => {
    await lineup.cli(['demo', 'remove']);
    await lineup.cli(['subscriber', 'add', 'demo', '--note', 'a real customer']);
    expect((await lineup.cli(['demo', 'remove'])).stdout).toMatch(/^nothing to remove/);
    expect(usernames()).toEqual(['demo']);
  });

  it('when it is given no action or another one, then it exits 2 with one line', async () => {
    for (const argv of [['demo'], ['demo', 'delete'], ['demo', 'remove', 'extra']]) {
      const result = await lineup.cli(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^lineup: demo/);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(channelNames()).toEqual(DEMO_NAMES);
  });
});

describe('the first real lineup change removes the demo', () => {
  it('when the first import is run, then the demo goes in the same transaction, stdout says so, and playlists no longer start with the demo channels', async () => {
    const imported = await lineup.cli(['import', EXAMPLE_M3U]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(REMOVED_BY_ITSELF);
    expect(lastLine(imported.stdout)).toBe(`${EXAMPLE_M3U}: 24 added, 0 updated, 0 unchanged, 0 skipped`);
    expect(usernames()).toEqual([]);

    const body = (await fetchFrom(await addSubscriber(lineup, 'alice'))).body;
    const names = parsePlaylist(body).map((entry) => entry.name);
    expect(names[0]).toBe('BBC One');
    expect(names.filter((name) => name.startsWith('Demo '))).toEqual([]);
  });

  it('when the first channel script is applied, then the demo goes in the same transaction and stdout says so', async () => {
    const result = await lineup.cli(['sql', EXAMPLE_SQL]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${EXAMPLE_SQL}: 1 statement, 5 rows changed\n${REMOVED_BY_ITSELF}`);
    expect(channelNames()).toEqual(['BBC One', 'BBC Two', 'News 24', 'Sport Arena 1', 'Toons']);
    // and the next script finds no demo to remove
    const again = await lineup.cli(['sql', EXAMPLE_SQL]);
    expect(again.stdout).not.toContain('demo');
  });

  it('when a script only edits or deletes demo channels, or only touches subscribers, then the rest of the demo stays', async () => {
    await lineup.cli(['sql', script('edit.sql', "UPDATE channels SET number = 9 WHERE stream = 'news';\n")]);
    await lineup.cli(['sql', script('drop.sql', "DELETE FROM channels WHERE stream = 'movies';\n")]);
    await lineup.cli(['sql', script('renew.sql', "UPDATE subscribers SET note = note WHERE username = 'demo';\n")]);
    expect(channelNames()).toEqual(['Demo News', 'Demo Sport', 'Demo Cartoons']);
    expect(usernames()).toEqual(['demo']);
    // The renumbered channel is the operator's now; the next real script takes the rest.
    const real = await lineup.cli(['sql', EXAMPLE_SQL]);
    expect(real.stdout).toContain('removed the demo lineup: 2 channels (Demo Sport, Demo Cartoons) and the subscriber "demo";');
    expect(channelNames()).toEqual(['Demo News', 'BBC One', 'BBC Two', 'News 24', 'Sport Arena 1', 'Toons']);
  });

  it('when the first channel script is refused by the lint guard, then the demo stays too', async () => {
    const clash = script('clash.sql', "INSERT INTO channels (stream, name, number) VALUES ('a', 'A', 7), ('b', 'B', 7);\n");
    const result = await lineup.cli(['sql', clash]);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('removed the demo');
    expect(channelNames()).toEqual(DEMO_NAMES);
    expect(usernames()).toEqual(['demo']);
  });

  it('when the first import is a dry run, then it says what it would remove and removes nothing', async () => {
    const result = await lineup.cli(['import', EXAMPLE_M3U, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`dry run, would have: ${REMOVED_BY_ITSELF}`);
    expect(channelNames()).toEqual(DEMO_NAMES);
  });
});
