import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execOn, lastLine, startTestLineup, type TestLineup } from '../helpers/lineup.js';

const EXAMPLE_M3U = new URL('../../playlists/example.m3u', import.meta.url).pathname;

let lineup: TestLineup;
beforeEach(async () => {
  lineup = await startTestLineup();
});
afterEach(async () => {
  await lineup.close();
});

function file(name: string, text: string): string {
  const path = join(lineup.dir, name);
  writeFileSync(path, text);
  return path;
}

/** Every row of the lineup's tables, to tell whether a refused file left anything behind. */
function lineupRows(): unknown {
  const db = new Database(lineup.dbPath, { readonly: true });
  try {
    return ['channels', 'packages', 'package_channels', 'channel_imports'].map((table) =>
      db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all(),
    );
  } finally {
    db.close();
  }
}

const exec = (statements: string) => execOn(lineup.dbPath, statements);

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The operator's own channel script before the examples were renumbered: 201, 301 and 401 are also in the example M3U. */
const OPERATORS_CHANNELS = `INSERT INTO channels (stream, name, number, group_title) VALUES
  ('bbc-one', 'BBC One', 101, 'General'),
  ('live/news24', 'News 24', 201, 'News'),
  ('sport/arena1', 'Sport Arena 1', 301, 'Sport'),
  ('kids/toons', 'Toons', 401, 'Kids');
`;

describe('lineup import runs the lint guard', () => {
  it('when an upstream M3U reuses numbers the operator\u2019s script already gave, then the import is rolled back and exits 1 naming the 3 new errors', async () => {
    expect((await lineup.cli(['sql', file('channels.sql', OPERATORS_CHANNELS)])).code).toBe(0);
    const before = lineupRows();

    const result = await lineup.cli(['import', EXAMPLE_M3U]);
    expect(result.code).toBe(1);
    const stderr = result.stderr.trimEnd().split('\n');
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(
      new RegExp(`^lineup: ${escaped(EXAMPLE_M3U)}: rolled back: it would add 3 lint errors \\(duplicate-number: number 201 `),
    );
    for (const number of [201, 301, 401]) expect(stderr[0]).toContain(`number ${number} is used by 2 channels`);
    expect(stderr[0]).toContain('--force');
    expect(result.stdout).toContain('lineup: 3 errors, 0 warnings');
    expect(lineupRows()).toEqual(before);
    expect((await lineup.cli(['lint'])).code).toBe(0);
  });

  it('when the same import is forced, then it is committed and the output says what was let through', async () => {
    await lineup.cli(['sql', file('channels.sql', OPERATORS_CHANNELS)]);
    const result = await lineup.cli(['import', EXAMPLE_M3U, '--force']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('applied with --force despite 3 new lint errors');
    expect(lastLine(result.stdout)).toBe(`${EXAMPLE_M3U}: 23 added, 0 updated, 1 unchanged, 0 skipped`);
    expect((await lineup.cli(['lint'])).code).toBe(1);
  });

  it('when a dry run would bring in new errors, then it says so the same way and writes nothing', async () => {
    await lineup.cli(['sql', file('channels.sql', OPERATORS_CHANNELS)]);
    const before = lineupRows();
    const result = await lineup.cli(['import', EXAMPLE_M3U, '--dry-run']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/rolled back: it would add 3 lint errors/);
    expect(lineupRows()).toEqual(before);
  });
});

describe('lineup sql runs the lint guard', () => {
  it('when a script would give a second channel a number already taken, then the file is rolled back and one line names it and the error', async () => {
    exec("INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1)");
    const before = lineupRows();
    const script = file('clash.sql', "INSERT INTO channels (stream, name, number) VALUES ('uno', 'Uno', 1);\n");
    const result = await lineup.cli(['sql', script]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^lineup: ${escaped(script)}: rolled back: it would add 1 lint error \\(duplicate-number: number 1 is used by 2 channels: #1 "One", #2 "Uno"\\); fix the file, or apply it anyway with --force\\n$`,
      ),
    );
    expect(result.stdout).toBe(
      'error: duplicate-number: number 1 is used by 2 channels: #1 "One", #2 "Uno"\nlineup: 1 error, 0 warnings\n',
    );
    expect(lineupRows()).toEqual(before);
  });

  it('when errors were there before the script, then they are shown but do not block it', async () => {
    exec("INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1), ('uno', 'Uno', 1)");
    const script = file('more.sql', "INSERT INTO channels (stream, name, number) VALUES ('two', 'Two', 2);\n");
    const result = await lineup.cli(['sql', script]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `${script}: 1 statement, 1 row changed\nerror: duplicate-number: number 1 is used by 2 channels: #1 "One", #2 "Uno"\nlineup: 1 error, 0 warnings\n`,
    );
    expect((lineupRows() as unknown[][])[0]).toHaveLength(3);
  });

  it('when a script renames a channel that is already in an error, then that error is not new and the script applies', async () => {
    exec("INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1), ('uno', 'Uno', 1)");
    const script = file('rename.sql', "UPDATE channels SET name = 'One HD' WHERE stream = 'one';\n");
    const result = await lineup.cli(['sql', script]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('number 1 is used by 2 channels: #1 "One HD", #2 "Uno"');
  });

  it('when a script adds a third channel to a number two already share, then that is a new error', async () => {
    exec("INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1), ('uno', 'Uno', 1)");
    const script = file('third.sql', "INSERT INTO channels (stream, name, number) VALUES ('eins', 'Eins', 1);\n");
    const result = await lineup.cli(['sql', script]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('it would add 1 lint error (duplicate-number: number 1 is used by 3 channels');
  });

  it('when --force is given, then the file is committed and the output says what was let through', async () => {
    exec("INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1)");
    const script = file('forced.sql', "INSERT INTO channels (stream, name, number) VALUES ('uno', 'Uno', 1);\n");
    const result = await lineup.cli(['sql', script, '--force']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${script}: 1 statement, 1 row changed\napplied with --force despite 1 new lint error\n`);
    expect((lineupRows() as unknown[][])[0]).toHaveLength(2);
  });

  it('when the second of three files is refused, then the first stays applied and the third is not run', async () => {
    const first = file('first.sql', "INSERT INTO channels (stream, name, number) VALUES ('one', 'One', 1);\n");
    const second = file('second.sql', "INSERT INTO channels (stream, name, number) VALUES ('uno', 'Uno', 1);\n");
    const third = file('third.sql', "INSERT INTO channels (stream, name, number) VALUES ('three', 'Three', 3);\n");
    const result = await lineup.cli(['sql', first, second, third]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^lineup: ${escaped(second)}: rolled back`));
    const db = new Database(lineup.dbPath, { readonly: true });
    expect(db.prepare('SELECT stream FROM channels ORDER BY id').pluck().all()).toEqual(['one']);
    db.close();
  });

  it('when only warnings are new, then the script applies and the warnings are shown', async () => {
    const script = file('logo.sql', "INSERT INTO channels (stream, name, number, logo) VALUES ('one', 'One', 1, 'logo.png');\n");
    const result = await lineup.cli(['sql', script]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('warning: bad-logo:');
    expect(result.stdout).toContain('lineup: 0 errors, 1 warning\n');
  });
});
