import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loggableUrl } from '../../src/logger.js';
import { startTestLineup, TEST_KEY, type TestLineup, tempDir } from '../helpers/lineup.js';
import { serveProcess } from '../helpers/serve-process.js';

const SECRET = 'hunter2-stream-password';

describe('lineup sql errors', () => {
  let lineup: TestLineup;
  beforeAll(async () => {
    lineup = await startTestLineup();
  });
  afterAll(() => lineup.close());

  const run = async (text: string) => {
    const file = join(lineup.dir, `broken-${Math.random().toString(36).slice(2)}.sql`);
    writeFileSync(file, text);
    return { file, result: await lineup.cli(['sql', file]) };
  };

  it('when a string literal is left unterminated, then the error names file and line and never the literal', async () => {
    const { file, result } = await run(
      `INSERT INTO channels (stream, name, number) VALUES ('a', 'A', 1);\nINSERT INTO origins (name, base_url, secret) VALUES('o','http://o','${SECRET});\n`,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${file}:2:`);
    expect(result.stderr).toMatch(/unterminated string/);
    expect(result.stderr).not.toContain(SECRET.slice(0, 6));
    expect(result.stdout).not.toContain(SECRET.slice(0, 6));
  });

  it('when a stray quote splits a literal, or a secret is double-quoted, then the token SQLite stopped at is not repeated', async () => {
    for (const broken of [
      `INSERT INTO origins (name, base_url, secret) VALUES('o','http://o','hunter2'${SECRET}');`,
      `INSERT INTO origins (name, base_url, secret) VALUES('o','http://o',"${SECRET}");`,
      `INSERT INTO origins (name, base_url, secret) VALUES('o','http://o',"${SECRET});`,
      `INSERT INTO origins (name, base_url, secret) VALUES('o','http://o',[${SECRET});`,
    ]) {
      const { file, result } = await run(`\n\n${broken}\n`);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`${file}:3:`);
      expect(result.stderr).not.toContain(SECRET);
      expect(result.stderr).not.toContain('stream-password');
    }
  });

  it('when the error quotes nothing of the script, then SQLite says it as it is', async () => {
    const { result } = await run('INSERT INTO no_such_table VALUES (1);');
    expect(result.stderr).toContain('no such table: no_such_table');
  });
});

describe('configured URLs in logs', () => {
  it('when a URL carries user, password or a query, then the loggable form has none of them and keeps host and path', () => {
    expect(loggableUrl(`http://user:${SECRET}@origin.example:8080/live/?token=${SECRET}`)).toBe(
      'http://origin.example:8080/live/?[redacted]',
    );
    expect(loggableUrl(`https://${SECRET}@origin.example`)).toBe('https://origin.example/');
    expect(loggableUrl('http://origin.example')).toBe('http://origin.example');
    expect(loggableUrl(`not a url //u:${SECRET}@x/y?k=${SECRET}`)).not.toContain(SECRET);
  });

  const children: ChildProcess[] = [];
  const temp = tempDir();
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(() => temp.cleanup());

  it('when ORIGIN_URL holds credentials, then the start-up line of lineup serve names the origin without them', async () => {
    const served = await serveProcess(
      {
        LINEUP_DB: join(temp.dir, 'lineup.db'),
        HOST: '127.0.0.1',
        PORT: '0',
        SECURETOKEN_KEY: TEST_KEY,
        ORIGIN_URL: `http://operator:${SECRET}@origin.example:8080`,
        PRUNE_CRON: 'off',
      },
      children,
    );
    const started = served
      .output()
      .split('\n')
      .find((line) => line.includes('lineup listening'));
    expect(started).toContain('"origin":"http://origin.example:8080/"');
    expect(served.output()).not.toContain(SECRET);
  });
});
