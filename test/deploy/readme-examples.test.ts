import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startTestLineup, type TestLineup } from '../helpers/lineup.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The ```sql blocks of one README section. */
function sqlBlocks(heading: string): string[] {
  const section = readme.slice(readme.indexOf(`\n## ${heading}\n`)).split(/\n## /)[1]!;
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

let lineup: TestLineup;
beforeEach(async () => {
  lineup = await startTestLineup();
});
afterEach(async () => {
  await lineup.close();
});

it('when the SQL example of the README is applied, then it runs and alice gets the premium channel', async () => {
  const [example] = sqlBlocks('Add channels');
  expect(example).toBeDefined();
  await lineup.cli(['subscriber', 'add', 'alice', '--until', '2030-01-01']);
  const file = join(lineup.dir, 'readme.sql');
  writeFileSync(file, example!);
  const applied = await lineup.cli(['sql', file]);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  const rendered = await lineup.cli(['render', 'alice', '--ip', '198.51.100.7']);
  expect(rendered.stdout).toMatch(/,News 24\nhttp:\/\/origin\.test\/live\/news24\/index\.m3u8\?token=/);
  const list = JSON.parse((await lineup.cli(['subscriber', 'list', '--json'])).stdout) as Array<{
    username: string;
    expiresAt?: string;
    expires_at?: string;
  }>;
  expect(JSON.stringify(list)).toContain('2030-01-08');
});

it('when the import example of the README is run, then its summary line is what the README shows', async () => {
  const result = await lineup.cli(['import', 'playlists/example.m3u']);
  expect(readme).toContain(result.stdout.trimEnd().split('\n').at(-1)!);
});
