import { expect } from 'vitest';
import { type FetchResult, fetchFrom, type TestLineup } from '../helpers/lineup.js';

/** What `subscriber add` printed: the XC password, and the playlist URL on the last line. */
export interface AddedLine {
  password: string;
  playlistUrl: string;
}

/** The XC password in a `XC login: server …, username …, password P` line. */
function xcPasswordIn(stdout: string): string {
  const password = /^XC login: .*, password (\S+)$/m.exec(stdout)?.[1];
  expect(password, stdout).toBeDefined();
  return password!;
}

/** `lineup subscriber add USER …` through the CLI's own code path, with its XC password. */
export async function addXcSubscriber(lineup: TestLineup, username: string, ...options: string[]): Promise<AddedLine> {
  const result = await lineup.cli(['subscriber', 'add', username, ...options]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  return { password: xcPasswordIn(result.stdout), playlistUrl: lines.at(-1)! };
}

/** `player_api.php` with these fields in the query. */
export function playerApi(lineup: TestLineup, fields: Record<string, string>, localAddress?: string): Promise<FetchResult> {
  return fetchFrom(`${lineup.url}/player_api.php?${new URLSearchParams(fields)}`, localAddress ? { localAddress } : {});
}

export function json<T = unknown>(response: FetchResult): T {
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(response.body) as T;
}
