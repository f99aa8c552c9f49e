import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addSubscriber, parsePlaylist } from '../core/support.js';
import { fetchFrom, lastLine, startTestLineup, type TestLineup } from '../helpers/lineup.js';

let lineup: TestLineup;
beforeEach(async () => {
  lineup = await startTestLineup();
});
afterEach(async () => {
  await lineup.close();
});

function writeM3u(name: string, lines: string[]): string {
  const file = join(lineup.dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function rows<T>(statement: string): T[] {
  const db = new Database(lineup.dbPath, { readonly: true });
  try {
    return db.prepare(statement).all() as T[];
  } finally {
    db.close();
  }
}

async function imported(file: string): Promise<string> {
  const result = await lineup.cli(['import', file]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return lastLine(result.stdout);
}

describe('lineup import: details an operator met', () => {
  it('when a second file without tvg-logo is imported over channels another file gave logos, then the logos stay', async () => {
    const upstream = writeM3u('upstream.m3u', [
      '#EXTM3U',
      '#EXTINF:-1 tvg-chno="1" tvg-logo="https://logos.example/one.png" group-title="News",One',
      'http://fl/one/index.m3u8',
      '#EXTINF:-1 tvg-chno="2" tvg-logo="https://logos.example/two.png" group-title="News",Two',
      'http://fl/two/index.m3u8',
    ]);
    const mine = writeM3u('mine.m3u', [
      '#EXTM3U',
      '#EXTINF:-1 tvg-chno="1" group-title="News",One HD',
      'http://fl/one/index.m3u8',
      '#EXTINF:-1 tvg-chno="2" group-title="News",Two',
      'http://fl/two/index.m3u8',
    ]);
    await imported(upstream);
    expect(await imported(mine)).toBe(`${mine}: 0 added, 1 updated, 1 unchanged, 0 skipped`);
    expect(rows('SELECT stream, name, logo FROM channels ORDER BY number')).toEqual([
      { stream: 'one', name: 'One HD', logo: 'https://logos.example/one.png' },
      { stream: 'two', name: 'Two', logo: 'https://logos.example/two.png' },
    ]);

    // A later file that has a logo still updates it: the kept logo is not taken for a hand edit.
    const renewed = writeM3u('renewed.m3u', [
      '#EXTM3U',
      '#EXTINF:-1 tvg-chno="1" tvg-logo="https://logos.example/one-2027.png" group-title="News",One HD',
      'http://fl/one/index.m3u8',
    ]);
    await imported(renewed);
    expect(rows("SELECT logo FROM channels WHERE stream = 'one'")).toEqual([{ logo: 'https://logos.example/one-2027.png' }]);
  });

  it('when the operator set a logo by hand, then a re-import from a file without tvg-logo keeps it', async () => {
    const file = writeM3u('plain.m3u', ['#EXTM3U', '#EXTINF:-1 tvg-chno="1",One', 'http://fl/one/index.m3u8']);
    await imported(file);
    const db = new Database(lineup.dbPath);
    db.prepare("UPDATE channels SET logo = 'https://logos.example/hand.png' WHERE stream = 'one'").run();
    db.close();
    expect(await imported(file)).toBe(`${file}: 0 added, 0 updated, 1 unchanged, 0 skipped`);
    expect(rows('SELECT logo FROM channels')).toEqual([{ logo: 'https://logos.example/hand.png' }]);
  });

  it('when the file groups its entries with #EXTGRP instead of group-title, then the channels get those groups and players see them', async () => {
    const file = writeM3u('grouped.m3u', [
      '#EXTM3U',
      '#EXTGRP:News',
      '#EXTINF:-1 tvg-chno="1",One',
      'http://fl/one/index.m3u8',
      '#EXTINF:-1 tvg-chno="2",Two',
      '#EXTGRP:Sport',
      'http://fl/two/index.m3u8',
      '#EXTINF:-1 tvg-chno="3" group-title="Films",Three',
      'http://fl/three/index.m3u8',
    ]);
    await imported(file);
    expect(rows('SELECT stream, group_title FROM channels ORDER BY number')).toEqual([
      { stream: 'one', group_title: 'News' },
      { stream: 'two', group_title: 'Sport' },
      { stream: 'three', group_title: 'Films' },
    ]);
    const playlist = await fetchFrom(await addSubscriber(lineup, 'alice'));
    expect(parsePlaylist(playlist.body).map((entry) => [entry.name, entry.group])).toEqual([
      ['One', 'News'],
      ['Two', 'Sport'],
      ['Three', 'Films'],
    ]);
  });

  it('when the URLs end in upper-case INDEX.M3U8 (or other case variants), then they are imported with the stream name as written', async () => {
    const file = writeM3u('upper.m3u', [
      '#EXTM3U',
      '#EXTINF:-1 tvg-chno="1",One',
      'http://FL.EXAMPLE/Live/One/INDEX.M3U8',
      '#EXTINF:-1 tvg-chno="2",Two',
      'http://fl.example/two/Video.M3U8',
      '#EXTINF:-1 tvg-chno="3",Three',
      'http://fl.example/three/MPEGTS',
    ]);
    expect(await imported(file)).toBe(`${file}: 3 added, 0 updated, 0 unchanged, 0 skipped`);
    expect(rows<{ stream: string }>('SELECT stream FROM channels ORDER BY number').map((row) => row.stream)).toEqual([
      'Live/One',
      'two',
      'three',
    ]);
  });
});
