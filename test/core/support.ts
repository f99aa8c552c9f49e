import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect } from 'vitest';
import { execOn, lastLine, onServer, TEST_KEY, type TestLineup } from '../helpers/lineup.js';
import { verifySecuretokenUrl } from '../helpers/securetoken-check.js';

/**
 * Writes `sql` to a file in the lineup's temp dir and applies it through the CLI's own code path.
 * With --force: a fixture is what its test wants, lint errors included (a tie on a number, say);
 * the lint guard has tests of its own.
 */
export async function applySql(lineup: TestLineup, sql: string, name = `script-${Math.random().toString(36).slice(2)}.sql`) {
  const file = join(lineup.dir, name);
  writeFileSync(file, sql);
  const result = await lineup.cli(['sql', file, '--force']);
  expect(
    result.stderr
      .split('\n')
      .filter((line) => !line.includes('warning'))
      .join(''),
  ).toBe('');
  expect(result.code).toBe(0);
  return { file, result };
}

/** Channels 1 to `count` (stream `live/channel-N`, name `Channel N`, number N), in one script: a big lineup for tests of large bodies. */
export async function addChannels(lineup: TestLineup, count: number) {
  return applySql(
    lineup,
    `INSERT INTO channels (stream, name, number)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})
       SELECT 'live/channel-' || i, 'Channel ' || i, i FROM n;`,
  );
}

/** A date long past: subscribers that expired then are lapsed beyond any grace period. */
export const LONG_AGO = '2001-02-01 00:00:00';

/**
 * Subscribers PREFIX1 to PREFIXcount, each with a random key hash, expiring at `expiresAt`, written
 * by plain SQL on a connection of their own (as an operator's sqlite3 would): many rows at once for
 * the prune and change-log tests.
 */
export function insertSubscribers(dbPath: string, count: number, prefix: string, expiresAt: string): void {
  execOn(
    dbPath,
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})
     INSERT INTO subscribers (username, key_hash, expires_at) SELECT '${prefix}' || i, hex(randomblob(32)), '${expiresAt}' FROM n;`,
  );
}

/** `lineup subscriber add USER …` and the playlist URL rebased onto the test server. */
export async function addSubscriber(lineup: TestLineup, username: string, ...options: string[]): Promise<string> {
  const result = await lineup.cli(['subscriber', 'add', username, ...options]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return onServer(lineup, lastLine(result.stdout));
}

interface ParserItem {
  name: string;
  url: string;
  raw: string;
  tvg: { logo: string };
  group: { title: string };
}

// The package ships no types; loading it through require keeps the shape declared here, in tests only.
const parser = createRequire(import.meta.url)('iptv-playlist-parser') as { parse(text: string): { items: ParserItem[] } };

export interface ParsedEntry {
  name: string;
  url: string;
  group: string;
  logo: string;
  chno: string;
}

export function parsePlaylist(body: string): ParsedEntry[] {
  return parser.parse(body).items.map((item: ParserItem) => ({
    name: item.name,
    url: item.url,
    group: item.group.title,
    logo: item.tvg.logo,
    chno: (item.raw.match(/tvg-chno="([^"]*)"/) ?? [])[1] ?? '',
  }));
}

/** Every stream URL in the body carries a token that verifies, from the spec, for `ip`. */
export function expectAllTokensValid(body: string, ip: string, key = TEST_KEY): ParsedEntry[] {
  const entries = parsePlaylist(body);
  for (const entry of entries) {
    const check = verifySecuretokenUrl(entry.url, { key, ip });
    expect(check.reason, entry.url).toBe('');
    expect(check.valid).toBe(true);
  }
  return entries;
}

export function streamOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '').replace(/\/(index\.m3u8|mpegts)$/, ''));
}
