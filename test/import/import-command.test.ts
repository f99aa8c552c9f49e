import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchFrom, lastLine, onServer, startTestLineup, type TestLineup } from '../helpers/lineup.js';

const EXAMPLE = new URL('../../playlists/example.m3u', import.meta.url).pathname;

let lineup: TestLineup;
beforeEach(async () => {
  lineup = await startTestLineup();
});
afterEach(async () => {
  await lineup.close();
});

function writeM3u(name: string, text: string): string {
  const file = join(lineup.dir, name);
  writeFileSync(file, text);
  return file;
}

/** A separate connection, as an operator's sqlite3 shell would be. */
function sql<T = unknown>(statement: string, ...params: unknown[]): T[] {
  const db = new Database(lineup.dbPath);
  try {
    const prepared = db.prepare(statement);
    if (prepared.reader) return prepared.all(...params) as T[];
    prepared.run(...params);
    return [];
  } finally {
    db.close();
  }
}

const summaryLine = (stdout: string) => lastLine(stdout);

describe('lineup import', () => {
  it('when the example playlist is imported, then its channels are stored with their attributes and served signed', async () => {
    const result = await lineup.cli(['import', EXAMPLE]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(summaryLine(result.stdout)).toBe(`${EXAMPLE}: 24 added, 0 updated, 0 unchanged, 0 skipped`);
    expect(
      sql(
        "SELECT stream, name, number, group_title, catchup_days, radio FROM channels WHERE stream IN ('live/bbc-news', 'radio/bbc-radio4') ORDER BY number",
      ),
    ).toEqual([
      { stream: 'live/bbc-news', name: 'BBC News', number: 201, group_title: 'News', catchup_days: 3, radio: 0 },
      { stream: 'radio/bbc-radio4', name: 'BBC Radio 4', number: 702, group_title: 'Radio', catchup_days: 0, radio: 1 },
    ]);

    const url = lastLine((await lineup.cli(['subscriber', 'add', 'alice', '--days', '30'])).stdout);
    const playlist = await fetchFrom(onServer(lineup, url));
    expect(playlist.status).toBe(200);
    expect(playlist.body).toMatch(
      /\n#EXTINF:-1 [^\n]*tvg-chno="201"[^\n]*,BBC News\nhttp:\/\/origin\.test\/live\/bbc-news\/index\.m3u8\?token=[0-9a-f]{40}-/,
    );
    expect(playlist.body).not.toContain('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('when the same file is imported twice, then the second import changes nothing', async () => {
    await lineup.cli(['import', EXAMPLE]);
    const before = sql('SELECT * FROM channels ORDER BY id');
    const second = await lineup.cli(['import', EXAMPLE]);
    expect(summaryLine(second.stdout)).toBe(`${EXAMPLE}: 0 added, 0 updated, 24 unchanged, 0 skipped`);
    expect(sql('SELECT * FROM channels ORDER BY id')).toEqual(before);
  });

  it('when the operator changed a number and upstream renamed the channel, then a re-import keeps the number and takes the name', async () => {
    const v1 = writeM3u(
      'v1.m3u',
      '#EXTM3U\n#EXTINF:-1 tvg-chno="5" tvg-logo="https://l/a.png" group-title="News",Alpha\nhttp://fl/alpha/index.m3u8\n',
    );
    await lineup.cli(['import', v1]);
    sql("UPDATE channels SET number = 42 WHERE stream = 'alpha'");
    const v2 = writeM3u(
      'v2.m3u',
      '#EXTM3U\n#EXTINF:-1 tvg-chno="6" tvg-logo="https://l/a2.png" group-title="World",Alpha HD\nhttp://fl/alpha/index.m3u8\n',
    );
    const result = await lineup.cli(['import', v2]);
    expect(summaryLine(result.stdout)).toBe(`${v2}: 0 added, 1 updated, 0 unchanged, 0 skipped`);
    expect(sql("SELECT number, name, logo, group_title FROM channels WHERE stream = 'alpha'")).toEqual([
      { number: 42, name: 'Alpha HD', logo: 'https://l/a2.png', group_title: 'World' },
    ]);
    // And it stays the operator's on the import after that.
    await lineup.cli(['import', v1]);
    expect(sql("SELECT number, name FROM channels WHERE stream = 'alpha'")).toEqual([{ number: 42, name: 'Alpha' }]);
  });

  it('when a channel with that stream was made by hand, then the import adopts it without overwriting it', async () => {
    sql("INSERT INTO channels (stream, name, number) VALUES ('alpha', 'Hand Made', 9)");
    const file = writeM3u('a.m3u', '#EXTM3U\n#EXTINF:-1 tvg-chno="5",Alpha\nhttp://fl/alpha/index.m3u8\n');
    const result = await lineup.cli(['import', file]);
    expect(summaryLine(result.stdout)).toBe(`${file}: 0 added, 0 updated, 1 unchanged, 0 skipped`);
    expect(sql('SELECT stream, name, number FROM channels')).toEqual([{ stream: 'alpha', name: 'Hand Made', number: 9 }]);
  });

  it('when entries are malformed, then the summary lists them with their lines and only the good ones are stored', async () => {
    const file = writeM3u(
      'bad.m3u',
      '\uFEFF#EXTM3U\r\n#EXTINF:-1,No URL\r\n#EXTINF:-1,Good\r\nhttp://fl/live/good/index.m3u8\r\n#EXTINF:-1,Elsewhere\r\nrtmp://cdn/app\r\n',
    );
    const result = await lineup.cli(['import', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${file}:2: skipped: no URL after this #EXTINF`);
    expect(result.stdout).toContain(`${file}:5: skipped: cannot derive a stream name`);
    expect(summaryLine(result.stdout)).toBe(`${file}: 1 added, 0 updated, 0 unchanged, 2 skipped`);
    expect(sql('SELECT stream, name FROM channels')).toEqual([{ stream: 'live/good', name: 'Good' }]);
  });

  it('when --package names a new package, then it is created and the imported channels are linked to it', async () => {
    const result = await lineup.cli(['import', EXAMPLE, '--package', 'basic']);
    expect(result.stdout).toContain('package "basic" (created): 24 channels linked');
    expect(sql("SELECT count(*) AS n FROM package_channels JOIN packages p ON p.id = package_id WHERE p.name = 'basic'")).toEqual([
      { n: 24 },
    ]);
    const again = await lineup.cli(['import', EXAMPLE, '--package', 'basic']);
    expect(again.stdout).toContain('package "basic": 0 channels linked');
  });

  it('when --origin names an origin that exists, then the channels use it; when it does not, then nothing is written and the error names it', async () => {
    const missing = await lineup.cli(['import', EXAMPLE, '--origin', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('lineup: --origin "nope": no such origin; add it to the origins table first\n');
    expect(sql('SELECT count(*) AS n FROM channels')).toEqual([{ n: 0 }]);

    sql("INSERT INTO origins (name, base_url, secret) VALUES ('edge', 'http://edge.test', 'edge-secret')");
    expect((await lineup.cli(['import', EXAMPLE, '--origin', 'edge'])).code).toBe(0);
    expect(sql('SELECT DISTINCT origin FROM channels')).toEqual([{ origin: 'edge' }]);
  });

  it('when --dry-run, then the summary is printed and nothing is written', async () => {
    const result = await lineup.cli(['import', EXAMPLE, '--dry-run', '--package', 'p']);
    expect(summaryLine(result.stdout)).toBe(`dry run, nothing written: ${EXAMPLE}: 24 added, 0 updated, 0 unchanged, 0 skipped`);
    expect(
      sql('SELECT (SELECT count(*) FROM channels) + (SELECT count(*) FROM packages) + (SELECT count(*) FROM channel_imports) AS n'),
    ).toEqual([{ n: 0 }]);
  });

  it('when --stream-from tvg-id, then stream names are the tvg-ids', async () => {
    const file = writeM3u('t.m3u', '#EXTM3U\n#EXTINF:-1 tvg-id="news.hd",News\nhttp://cdn.example/channel?id=4\n');
    await lineup.cli(['import', file, '--stream-from', 'tvg-id']);
    expect(sql('SELECT stream FROM channels')).toEqual([{ stream: 'news.hd' }]);
  });

  it('when the arguments or the file are wrong, then it exits non-zero with one line naming them', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['import'], 2, /^lineup: import: name exactly one FILE\n$/],
      [['import', join(lineup.dir, 'missing.m3u')], 2, /missing\.m3u: no such file\n$/],
      [['import', EXAMPLE, '--stream-from', 'name'], 2, /^lineup: --stream-from: "name" is not url or tvg-id\n$/],
      [['import', writeM3u('x.txt', 'hello\n')], 1, /x\.txt:1: not an M3U playlist/],
    ];
    for (const [argv, code, stderr] of cases) {
      const result = await lineup.cli(argv);
      expect(result.code, argv.join(' ')).toBe(code);
      expect(result.stderr).toMatch(stderr);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });
});

describe('lineup import progress', () => {
  it('when stdout is a terminal, then a progress bar goes to stderr and stdout keeps only the report', async () => {
    const { runCli } = await import('../../src/cli/main.js');
    let stdout = '';
    let stderr = '';
    const code = await runCli(['import', EXAMPLE], {
      env: lineup.env,
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      isTTY: true,
    });
    expect(code).toBe(0);
    expect(stderr).toMatch(/\r\[#{30}\] 100% 24\/24\n$/);
    expect(stdout).not.toContain('#');
  });
});
