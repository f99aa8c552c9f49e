import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchFrom, lastLine, startTestLineup, type TestLineup } from '../helpers/lineup.js';
import { addSubscriber, parsePlaylist, streamOf } from './support.js';

const example = (name: string) => new URL(`../../data/examples/${name}`, import.meta.url).pathname;
const EXAMPLE_M3U = new URL('../../playlists/example.m3u', import.meta.url).pathname;
/** In the order the README and their own comments give. */
const LINEUP_SCRIPTS = ['channels.sql', 'packages.sql', 'second-origin.sql'];

let lineup: TestLineup;
beforeEach(async () => {
  lineup = await startTestLineup();
});
afterEach(async () => {
  await lineup.close();
});

/** Every row of every table, so that "the same database" means the same everywhere. */
function dump(): Record<string, unknown[]> {
  const db = new Database(lineup.dbPath, { readonly: true });
  try {
    const tables = db
      // lineup_version, lineup_changes and audit_log record writes, not state: an upsert that
      // changes nothing still moves the counters and leaves a row in the log.
      .prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('lineup_version', 'lineup_changes', 'audit_log') ORDER BY name",
      )
      .pluck()
      .all();
    return Object.fromEntries((tables as string[]).map((table) => [table, db.prepare(`SELECT * FROM "${table}" ORDER BY 1, 2`).all()]));
  } finally {
    db.close();
  }
}

async function sql(...files: string[]) {
  const result = await lineup.cli(['sql', ...files]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result;
}

/** The stream of every entry of alice's playlist (with the premium tier, when there is one), as a player gets it. */
async function playlistStreams(...packages: string[]): Promise<string[]> {
  const url = await addSubscriber(lineup, 'alice', ...packages.flatMap((name) => ['--package', name]));
  const response = await fetchFrom(url);
  expect(response.status).toBe(200);
  return parsePlaylist(response.body).map((entry) => streamOf(entry.url));
}

const duplicates = (items: string[]) => items.filter((item, at) => items.indexOf(item) !== at);

describe('the example lineup scripts are upserts', () => {
  it('when channels.sql is applied twice, then the second run exits 0 with the database as it was, no lint errors, and each channel once in a playlist', async () => {
    await sql(example('channels.sql'));
    const once = dump();
    const second = await sql(example('channels.sql'));
    expect(second.stdout).not.toMatch(/^error:/m);
    expect(dump()).toEqual(once);
    expect((await lineup.cli(['lint'])).code).toBe(0);

    const streams = await playlistStreams();
    expect(streams).toHaveLength(5);
    expect(duplicates(streams)).toEqual([]);
  });

  it('when every lineup example is applied twice, then the second pass leaves the database as the first did', async () => {
    for (const name of LINEUP_SCRIPTS) await sql(example(name));
    const once = dump();
    for (const name of LINEUP_SCRIPTS) await sql(example(name));
    expect(dump()).toEqual(once);
  });

  it('when an edited channels.sql is applied again, then the edited channel takes the new values and nothing is added', async () => {
    await sql(example('channels.sql'));
    const edited = join(lineup.dir, 'channels.sql');
    const text = readFileSync(example('channels.sql'), 'utf8');
    expect(text).toContain("('live/news24',  'News 24',       206,");
    writeFileSync(edited, text.replace("('live/news24',  'News 24',       206,", "('live/news24',  'News 24 HD',    207,"));
    await sql(edited);
    const db = new Database(lineup.dbPath, { readonly: true });
    expect(db.prepare("SELECT name, number FROM channels WHERE stream = 'live/news24'").all()).toEqual([
      { name: 'News 24 HD', number: 207 },
    ]);
    expect(db.prepare('SELECT count(*) FROM channels').pluck().get()).toBe(5);
    db.close();
  });

  it('when the README sequence is followed (the scripts twice, then the example M3U twice), then each step exits 0, lint is clean, and nothing is listed twice', async () => {
    for (let pass = 0; pass < 2; pass++) for (const name of LINEUP_SCRIPTS) await sql(example(name));
    const imported = await lineup.cli(['import', EXAMPLE_M3U]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    // bbc-one and bbc-two are in channels.sql too: the import adopts them.
    expect(lastLine(imported.stdout)).toBe(`${EXAMPLE_M3U}: 22 added, 0 updated, 2 unchanged, 0 skipped`);
    const again = await lineup.cli(['import', EXAMPLE_M3U]);
    expect(lastLine(again.stdout)).toBe(`${EXAMPLE_M3U}: 0 added, 0 updated, 24 unchanged, 0 skipped`);
    expect(await lineup.cli(['lint'])).toMatchObject({ code: 0, stderr: '' });

    const streams = await playlistStreams('premium');
    // 5 from channels.sql, 1 from packages.sql, 1 on edge2, and the 22 the import added.
    expect(streams).toHaveLength(29);
    expect(duplicates(streams)).toEqual([]);
  });

  it('when renew-all.sql is applied twice, then each run adds 7 days, as its comment says (an action, not a state)', async () => {
    await lineup.cli(['subscriber', 'add', 'bob', '--until', '2030-01-01']);
    await sql(example('renew-all.sql'));
    await sql(example('renew-all.sql'));
    const db = new Database(lineup.dbPath, { readonly: true });
    expect(db.prepare("SELECT expires_at FROM subscribers WHERE username = 'bob'").pluck().get()).toBe('2030-01-15 23:59:59');
    db.close();
  });
});
