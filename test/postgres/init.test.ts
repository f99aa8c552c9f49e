import { beforeAll, expect, it } from 'vitest';
import { LATEST_SCHEMA_VERSION } from '../../src/db/migrations.js';
import { lineupProcess } from '../helpers/command-line.js';
import { runCliCaptured } from '../helpers/lineup.js';
import { describePostgres, freshDatabase, queryOn } from '../helpers/postgres.js';

/** The URL with a password in it: trust auth ignores it, and no output may show it. */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

const SECRET = 'pg-secret-word';

describePostgres('lineup init on PostgreSQL', () => {
  let url: string;
  beforeAll(async () => {
    url = withPassword(await freshDatabase(), SECRET);
  });

  it('when three processes run lineup init on an empty database at once, then all succeed, one creates the schema, and it ends at the latest version', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => lineupProcess(['init'], { LINEUP_DB: url })));
    for (const run of runs) expect(run, run.stderr).toMatchObject({ code: 0, stderr: '' });
    const lines = runs.map((run) => run.stdout.trim()).sort();
    expect(lines.filter((line) => line.startsWith('Created the schema: postgres://postgres:***@'))).toHaveLength(1);
    expect(lines.filter((line) => line.startsWith('Database up to date: postgres://postgres:***@'))).toHaveLength(2);
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(await queryOn(url, 'SELECT version FROM lineup_schema')).toEqual([{ version: LATEST_SCHEMA_VERSION }]);
    expect(await queryOn(url, "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'subscribers'")).toEqual([
      { n: 1 },
    ]);
  });

  it('when lineup init runs again, then it changes nothing and says the database is up to date', async () => {
    const before = await queryOn(url, 'SELECT count(*)::int AS n FROM pg_trigger WHERE NOT tgisinternal');
    const run = await runCliCaptured(['init'], { LINEUP_DB: url });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Database up to date: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/lineup_test_\w+\n$/);
    expect(await queryOn(url, 'SELECT count(*)::int AS n FROM pg_trigger WHERE NOT tgisinternal')).toEqual(before);
  });

  it('when the schema is newer than this Lineup, then init refuses with one line and leaves it alone', async () => {
    const newer = await freshDatabase();
    expect((await runCliCaptured(['init'], { LINEUP_DB: newer })).code).toBe(0);
    await queryOn(newer, `UPDATE lineup_schema SET version = ${LATEST_SCHEMA_VERSION + 1}`);
    const run = await runCliCaptured(['init'], { LINEUP_DB: withPassword(newer, SECRET) });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^lineup: LINEUP_DB: cannot migrate postgres://postgres:\\*\\*\\*@.*: database schema version ${LATEST_SCHEMA_VERSION + 1} is newer than this Lineup \\(${LATEST_SCHEMA_VERSION}\\)\\n$`,
      ),
    );
    expect(await queryOn(newer, 'SELECT version FROM lineup_schema')).toEqual([{ version: LATEST_SCHEMA_VERSION + 1 }]);
  });

  it("when the database holds another program's tables, then init refuses to mix Lineup's into them", async () => {
    const foreign = await freshDatabase();
    await queryOn(foreign, 'CREATE TABLE invoices (id int)');
    const run = await runCliCaptured(['init'], { LINEUP_DB: foreign });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^lineup: LINEUP_DB: cannot migrate .*: it is a PostgreSQL database but not Lineup's \(1 tables, no lineup_schema\)\n$/,
    );
    expect(await queryOn(foreign, "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")).toEqual([
      { n: 1 },
    ]);
  });

  it('when the role that runs init does not own the database, then it still makes the schema, and warns that the shims are off the search_path', async () => {
    const owned = await freshDatabase();
    const role = `lineup_app_${Date.now().toString(36)}`;
    await queryOn(
      owned,
      `CREATE ROLE ${role} LOGIN; GRANT CREATE ON DATABASE ${new URL(owned).pathname.slice(1)} TO ${role}; GRANT CREATE ON SCHEMA public TO ${role}`,
    );
    const asRole = new URL(owned);
    asRole.username = role;
    const run = await runCliCaptured(['init'], { LINEUP_DB: asRole.toString() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Created the schema: /);
    expect(run.stderr).toMatch(
      /^lineup: warning: lineup_compat is not on this database's search_path \(not its owner\): run ALTER DATABASE \w+ SET search_path = .*, lineup_compat\n$/,
    );
    expect(await queryOn(owned, 'SELECT version FROM lineup_schema')).toEqual([{ version: LATEST_SCHEMA_VERSION }]);
  });

  it('when the database does not exist, then init says so in one line, with how to create it, and no password', async () => {
    const missing = new URL(url);
    missing.pathname = '/lineup_no_such_database';
    const run = await runCliCaptured(['init'], { LINEUP_DB: missing.toString() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^lineup: LINEUP_DB: cannot migrate postgres:\/\/postgres:\*\*\*@.*: database "lineup_no_such_database" does not exist \(create it first: createdb, or CREATE DATABASE\)\n$/,
    );
    expect(run.stderr).not.toContain(SECRET);
  });
});

describePostgres('commands on a PostgreSQL LINEUP_DB', () => {
  let url: string;
  beforeAll(async () => {
    url = withPassword(await freshDatabase(), SECRET);
  });

  it('when a command is asked for its help with a PostgreSQL LINEUP_DB, then it still shows it', async () => {
    const run = await runCliCaptured(['subscriber', 'add', '--help'], { LINEUP_DB: url });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('lineup subscriber');
  });
});
