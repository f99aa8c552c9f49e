import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { GENERATED_KEY_SETTING } from '../../src/context.js';
import { type RunningLineup, startLineup } from '../../src/standalone.js';
import { captureLogs, fetchFrom, lastLine, onServer, runCliCaptured, tempDir } from '../helpers/lineup.js';
import { parsePlaylist } from './support.js';

const SECURETOKEN_KEY = 'sEcReT-securetoken-key-4f1c9a';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The real service, logging at trace level into memory, so that even debug lines are searched. */
async function start(env: NodeJS.ProcessEnv) {
  const { dir, cleanup } = tempDir();
  const fullEnv = {
    LINEUP_DB: join(dir, 'lineup.db'),
    HOST: '127.0.0.1',
    PORT: '0',
    PUBLIC_URL: 'http://lineup.test',
    PRUNE_CRON: 'off',
    ...env,
  };
  const { logger, logs } = captureLogs('trace');
  const lineup: RunningLineup = await startLineup(loadConfig(fullEnv), { logger, seedDemo: true });
  cleanups.push(cleanup, () => lineup.stop());
  let stderr = '';
  const cli = async (argv: string[]) => {
    const result = await runCliCaptured(argv, fullEnv);
    stderr += result.stderr;
    return result;
  };
  return { lineup, logs, dir, cli, stderr: () => stderr, env: fullEnv };
}

const keyOf = (url: string) => /\/playlist\/([^/.]+)\.m3u8?$/.exec(new URL(url).pathname)![1]!;

describe('no secret reaches a log', () => {
  it('when a full scenario runs, then logs and CLI stderr hold no securetoken key, playlist key or token', async () => {
    const { lineup, logs, dir, cli, stderr } = await start({ SECURETOKEN_KEY, LOG_LEVEL: 'trace' });
    const playlistKeys: string[] = [keyOf(lineup.demoUrl!)];
    const tokens: string[] = [];
    const fetchAndCollect = async (url: string, options: Parameters<typeof fetchFrom>[1] = {}) => {
      const response = await fetchFrom(url, options);
      for (const entry of response.status === 200 ? parsePlaylist(response.body) : []) {
        tokens.push(new URL(entry.url).searchParams.get('token')!);
      }
      return response;
    };

    const sqlFile = join(dir, 'channels.sql');
    (await import('node:fs')).writeFileSync(
      sqlFile,
      "INSERT INTO channels (stream, name, number) VALUES ('x/one', 'One', 10);\nINSERT INTO nope VALUES (1);\n",
    );
    expect((await cli(['sql', sqlFile])).code).toBe(1);
    // Several channels, so that every playlist below carries tokens: this first real script removes the demo's.
    (await import('node:fs')).writeFileSync(
      sqlFile,
      "INSERT INTO channels (stream, name, number) VALUES ('x/one', 'One', 10), ('x/two', 'Two', 11), ('x/three', 'Three', 12);\n",
    );
    expect((await cli(['sql', sqlFile])).code).toBe(0);

    const added = await cli(['subscriber', 'add', 'alice', '--days', '30']);
    const aliceUrl = onServer(lineup, lastLine(added.stdout));
    playlistKeys.push(keyOf(aliceUrl));
    const lapsed = await cli(['subscriber', 'add', 'lapsed', '--until', '2001-01-01', '--allow-past']);
    playlistKeys.push(keyOf(lastLine(lapsed.stdout)));

    expect((await fetchAndCollect(aliceUrl)).status).toBe(200);
    expect((await fetchAndCollect(`${aliceUrl}?output=ts`, { method: 'POST' })).status).toBe(200);
    // The channel script above was the first real one, so it removed the demo: its URL is gone.
    expect((await fetchAndCollect(onServer(lineup, lineup.demoUrl!), { localAddress: '127.0.0.2' })).status).toBe(410);
    expect((await fetchAndCollect(aliceUrl, { localAddress: '127.0.0.2' })).status).toBe(200);
    expect((await fetchAndCollect(onServer(lineup, lastLine(lapsed.stdout)))).status).toBe(403);
    expect((await fetchAndCollect(`${lineup.url}/playlist/AAAAAAAAAAAAAAAAAAAAAAAA.m3u`)).status).toBe(404);
    expect((await fetchAndCollect(`${lineup.url}/playlist/${keyOf(aliceUrl)}x.m3u`)).status).toBe(404);
    expect((await fetchAndCollect(`${aliceUrl}?output=bogus`)).status).toBe(400);
    expect((await fetchAndCollect(`${lineup.url}/playlist/${keyOf(aliceUrl)}/extra`)).status).toBe(404);

    expect((await cli(['subscriber', 'disable', 'alice'])).code).toBe(0);
    expect((await fetchAndCollect(aliceUrl)).status).toBe(403);
    expect((await cli(['subscriber', 'enable', 'alice'])).code).toBe(0);
    const rotated = await cli(['subscriber', 'rotate', 'alice']);
    playlistKeys.push(keyOf(lastLine(rotated.stdout)));
    expect((await fetchAndCollect(aliceUrl)).status).toBe(403);
    expect((await fetchAndCollect(onServer(lineup, lastLine(rotated.stdout)))).status).toBe(200);
    expect((await cli(['render', 'alice', '--ip', '10.0.0.1'])).code).toBe(0);
    expect((await cli(['subscriber', 'list'])).code).toBe(0);
    expect((await cli(['prune'])).code).toBe(0);
    expect((await cli(['subscriber', 'rotate', 'nobody'])).code).toBe(1);

    expect(tokens.length).toBeGreaterThan(10);
    expect(logs.lines.length).toBeGreaterThan(10); // the scenario did log: silence would prove nothing
    const haystack = `${logs.text()}\n${stderr()}`;
    expect(haystack).not.toContain(SECURETOKEN_KEY);
    for (const key of playlistKeys) expect(haystack).not.toContain(key);
    for (const token of tokens) {
      expect(haystack).not.toContain(token);
      expect(haystack).not.toContain(token.slice(0, 40)); // the digest alone
    }
  });

  it('when SECURETOKEN_KEY is unset, then the generated key is in settings but in no log line or CLI stderr', async () => {
    const { logs, cli, stderr, env } = await start({});
    expect((await cli(['subscriber', 'list'])).code).toBe(0);
    const db = new Database(env.LINEUP_DB!, { readonly: true });
    const generated = db.prepare('SELECT value FROM settings WHERE name = ?').pluck().get(GENERATED_KEY_SETTING) as string;
    db.close();
    expect(generated.length).toBeGreaterThanOrEqual(16);
    expect(logs.text()).toContain('SECURETOKEN_KEY');
    expect(logs.text()).not.toContain(generated);
    expect(stderr()).not.toContain(generated);
  });
});
