import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/lint/lint.js';
import { execOn, startTestLineup, type TestLineup } from '../helpers/lineup.js';

let lineup: TestLineup;
beforeEach(async () => {
  lineup = await startTestLineup();
});
afterEach(async () => {
  await lineup.close();
});

const exec = (statements: string) => execOn(lineup.dbPath, statements);

async function lint(): Promise<{ code: number; findings: Finding[] }> {
  const result = await lineup.cli(['lint', '--json']);
  return { code: result.code, findings: JSON.parse(result.stdout) as Finding[] };
}

const codes = (findings: Finding[]) => findings.map((finding) => finding.code).sort();

describe('lineup lint', () => {
  it('when the lineup is clean, then it finds nothing and exits 0', async () => {
    exec(`INSERT INTO channels (stream, name, number, logo, tvg_id) VALUES
            ('one', 'One', 1, 'https://logos.example/one.png', 'one.tv'),
            ('live/two', 'Two', 2, '', '')`);
    const result = await lineup.cli(['lint']);
    expect(result).toEqual({ code: 0, stdout: 'lineup: no problems found\n', stderr: '' });
  });

  it('when two enabled channels share a number, then it is an error naming both, and the exit code is 1', async () => {
    exec(
      `INSERT INTO channels (id, stream, name, number) VALUES (1, 'a', 'A', 7), (2, 'b', 'B', 7), (3, 'c', 'C', NULL), (4, 'd', 'D', NULL)`,
    );
    const { code, findings } = await lint();
    expect(code).toBe(1);
    expect(findings).toEqual([expect.objectContaining({ severity: 'error', code: 'duplicate-number', channelIds: [1, 2] })]);
  });

  it('when a stream is listed twice on one origin, then the schema refuses the second; on two origins, it is not', async () => {
    exec(`INSERT INTO origins (name, base_url, secret) VALUES ('default', 'http://other.test', 's');
          INSERT INTO channels (id, stream, name, number, origin) VALUES (1, 'live/a', 'A', 1, NULL), (3, 'live/a', 'A elsewhere', 3, 'default')`);
    expect(() => exec(`INSERT INTO channels (stream, name, number) VALUES ('live/a', 'A again', 2)`)).toThrow(/UNIQUE constraint failed/);
    expect(() => exec(`INSERT INTO channels (stream, name, origin) VALUES ('live/a', 'A again', 'default')`)).toThrow(
      /UNIQUE constraint failed/,
    );
    const { code, findings } = await lint();
    expect(code).toBe(0);
    expect(findings).toEqual([]);
  });

  it('when a stream name is empty, then the schema refuses it', () => {
    for (const stream of ["''", "'   '", "'/abs'"]) {
      expect(() => exec(`INSERT INTO channels (stream, name) VALUES (${stream}, 'X')`)).toThrow(/CHECK constraint failed/);
    }
  });

  it('when a name is empty or blank, or a stream cannot be signed, then lint reports them', async () => {
    exec(`INSERT INTO channels (id, stream, name, number) VALUES (1, 'nameless', '', 1), (2, 'blank', '  ', 2), (3, 'has space', 'S', 3)`);
    const { code, findings } = await lint();
    expect(code).toBe(1);
    expect(findings.map((f) => [f.code, f.severity, f.channelIds])).toEqual([
      ['empty-name', 'warning', [1]],
      ['empty-name', 'warning', [2]],
      ['bad-stream', 'error', [3]],
    ]);
  });

  it('when a logo is not an http(s) URL, then it is a warning; an https logo is fine', async () => {
    exec(`INSERT INTO channels (id, stream, name, number, logo) VALUES
            (1, 'a', 'A', 1, 'logos/a.png'), (2, 'b', 'B', 2, 'ftp://logos/b.png'), (3, 'c', 'C', 3, 'javascript:alert(1)'),
            (4, 'd', 'D', 4, 'https://logos.example/d.png'), (5, 'e', 'E', 5, 'http://x/e f.png')`);
    const { code, findings } = await lint();
    expect(code).toBe(0);
    expect(findings.filter((f) => f.code === 'bad-logo').flatMap((f) => f.channelIds)).toEqual([1, 2, 3, 5]);
    expect(codes(findings)).toEqual(['bad-logo', 'bad-logo', 'bad-logo', 'bad-logo']);
  });

  it('when two channels share a tvg_id, then it is a warning', async () => {
    exec(
      `INSERT INTO channels (id, stream, name, number, tvg_id) VALUES (1, 'a', 'A', 1, 'bbc.uk'), (2, 'b', 'B', 2, 'bbc.uk'), (3, 'c', 'C', 3, '')`,
    );
    const { code, findings } = await lint();
    expect(code).toBe(0);
    expect(findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'duplicate-tvg-id', channelIds: [1, 2] })]);
  });

  it('when a channel is only in packages no active subscriber has, then nobody sees it and lint says so', async () => {
    exec(`INSERT INTO channels (id, stream, name, number) VALUES (1, 'free', 'Free', 1), (2, 'sport', 'Sport', 2), (3, 'movies', 'Movies', 3), (4, 'kids', 'Kids', 4);
          INSERT INTO packages (id, name) VALUES (1, 'sport'), (2, 'movies'), (3, 'kids');
          INSERT INTO package_channels VALUES (1, 2), (2, 3), (3, 4);`);
    await lineup.cli(['subscriber', 'add', 'alice', '--days', '30', '--package', 'sport']);
    await lineup.cli(['subscriber', 'add', 'bob', '--days', '30', '--package', 'kids']);
    await lineup.cli(['subscriber', 'disable', 'bob']);
    exec(`INSERT INTO subscribers (username, expires_at) VALUES ('carol', '2000-01-01 00:00:00');
          INSERT INTO subscriber_packages SELECT id, 2 FROM subscribers WHERE username = 'carol';`);
    const { code, findings } = await lint();
    expect(code).toBe(0);
    expect(findings.map((f) => [f.code, f.channelIds])).toEqual([
      ['unseen-channel', [3]],
      ['unseen-channel', [4]],
    ]);
  });

  it('when a disabled channel shares a number with an enabled one, then only its own problems are reported', async () => {
    exec(
      `INSERT INTO channels (id, stream, name, number, enabled, logo) VALUES (1, 'a', 'A', 1, 1, ''), (2, 'a-old', 'A old', 1, 0, 'old.png')`,
    );
    const { findings } = await lint();
    expect(findings.map((f) => [f.code, f.channelIds])).toEqual([['bad-logo', [2]]]);
  });

  it('when lineup sql applies a script with --force, then it prints the same report', async () => {
    const file = join(lineup.dir, 'dupes.sql');
    writeFileSync(file, "INSERT INTO channels (stream, name, number) VALUES ('a', 'A', 1), ('b', 'B', 1);\n");
    const applied = await lineup.cli(['sql', file, '--force']);
    expect(applied.code).toBe(0);
    const linted = await lineup.cli(['lint']);
    expect(linted.code).toBe(1);
    expect(linted.stdout).toMatch(/^error: duplicate-number: number 1 is used by 2 channels/);
    expect(applied.stdout).toContain(linted.stdout);
  });
});
