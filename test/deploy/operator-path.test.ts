import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LINEUP_BIN } from '../build-once.js';
import { expectAllTokensValid, parsePlaylist } from '../core/support.js';
import { freePorts } from '../e2e/harness/ports.js';
import { databasesUnder, lineupFrom, serveCommandLine } from '../helpers/command-line.js';
import { fetchFrom, lastLine, TEST_KEY, tempDir } from '../helpers/lineup.js';

const ROOT = join(import.meta.dirname, '../..');
const temp = tempDir('lineup-operator-path-');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  temp.cleanup();
});

/**
 * The README's operator path, run as an operator types it, from an empty directory: an env file,
 * the server, the example channel script twice, the example import, a subscriber, `render`, a
 * fetch, and the same commands again from a subdirectory. Every command is a child process.
 */
describe('the operator path of the README, from an empty directory', () => {
  const home = temp.dir;
  const envFile = join(home, 'lineup.env');
  const streams = (body: string) => parsePlaylist(body).map((entry) => new URL(entry.url).pathname);
  const lineup = (cwd: string, ...argv: string[]) => lineupFrom(cwd, ['--env-file', envFile, ...argv], {});
  let playlistUrl = '';

  it('when the operator starts it, applies the channel script twice, imports, adds, renders and fetches, then nothing is doubled', async () => {
    const [port] = (await freePorts(1)) as [number];
    writeFileSync(
      envFile,
      [
        `LINEUP_DB=${join(home, 'data/lineup.db')}`,
        'HOST=127.0.0.1',
        `PORT=${port}`,
        `PUBLIC_URL=http://127.0.0.1:${port}`,
        `SECURETOKEN_KEY=${TEST_KEY}`,
        'ORIGIN_URL=http://flussonic.test',
        'PRUNE_CRON=off',
      ].join('\n'),
    );
    const server = await serveCommandLine(['node', LINEUP_BIN, '--env-file', envFile, 'serve', '--demo'], {}, children, { cwd: home });
    expect(server.output()).toMatch(/Demo subscriber "demo" created/);

    const channels = join(ROOT, 'data/examples/channels.sql');
    const first = lineup(home, 'sql', channels);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/removed the demo lineup/);
    const second = lineup(home, 'sql', channels);
    expect(second.code, second.stderr).toBe(0);
    const imported = lineup(home, 'import', join(ROOT, 'playlists/example.m3u'));
    expect(imported.code, imported.stderr).toBe(0);

    const added = lineup(home, 'subscriber', 'add', 'alice', '--days', '30');
    expect(added.code, added.stderr).toBe(0);
    playlistUrl = lastLine(added.stdout);
    expect(playlistUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/playlist/`));

    const rendered = lineup(home, 'render', 'alice', '--ip', '127.0.0.1');
    expect(rendered.code, rendered.stderr).toBe(0);
    const fetched = await fetchFrom(playlistUrl);
    expect(fetched.status).toBe(200);
    expectAllTokensValid(fetched.body, '127.0.0.1');
    expectAllTokensValid(rendered.stdout, '127.0.0.1');

    const served = streams(fetched.body);
    expect(served.length).toBeGreaterThan(5);
    expect(new Set(served).size).toBe(served.length);
    expect(streams(rendered.stdout)).toEqual(served);
    expect(parsePlaylist(fetched.body).some((entry) => entry.name.startsWith('Demo '))).toBe(false);
    // The database, and beside it the auth backend's session file; nothing anywhere else.
    expect(databasesUnder(home)).toEqual(['data/lineup.db', 'data/lineup.sessions.db']);
  });

  it('when the operator reruns the commands from a subdirectory, then they reach the same database and nothing is doubled', async () => {
    expect(playlistUrl).not.toBe('');
    const before = streams((await fetchFrom(playlistUrl)).body);
    const sub = join(home, 'scripts', 'nightly');
    mkdirSync(sub, { recursive: true });

    expect(lineup(sub, 'sql', join(ROOT, 'data/examples/channels.sql')).code).toBe(0);
    expect(lineup(sub, 'import', join(ROOT, 'playlists/example.m3u')).code).toBe(0);
    const listed = lineup(sub, 'subscriber', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { username: string }[]).map((subscriber) => subscriber.username)).toEqual(['alice']);

    expect(streams((await fetchFrom(playlistUrl)).body)).toEqual(before);
    expect(databasesUnder(home)).toEqual(['data/lineup.db', 'data/lineup.sessions.db']);
  });
});
