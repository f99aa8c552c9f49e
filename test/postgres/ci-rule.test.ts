import { describe, expect, it } from 'vitest';
import { freePorts } from '../e2e/harness/ports.js';
import { describePostgres, postgresForTests, suiteMode } from '../helpers/postgres.js';

describe('where the PostgreSQL suites find a server', () => {
  it('when CI=true and no server answers at LINEUP_TEST_PG, then the suites fail, naming the server but not its password', async () => {
    const [port] = await freePorts(1);
    const env = { CI: 'true', LINEUP_TEST_PG: `postgres://lineup:hunter2-secret@127.0.0.1:${port}/lineup` };
    const server = await postgresForTests(env);
    expect(suiteMode(server, env)).toBe('fail');
    expect('reason' in server && server.reason).toMatch(
      new RegExp(`^PostgreSQL at postgres://lineup:\\*\\*\\*@127\\.0\\.0\\.1:${port}/lineup is not reachable: .*ECONNREFUSED`),
    );
    expect(JSON.stringify(server)).not.toContain('hunter2-secret');
  });

  it('when not in CI and no server answers, then the suites are skipped with the reason instead', async () => {
    const [port] = await freePorts(1);
    const env = { LINEUP_TEST_PG: `postgres://lineup@127.0.0.1:${port}/lineup` };
    expect(suiteMode(await postgresForTests(env), env)).toBe('skip');
  });
});

describePostgres('the run’s PostgreSQL server', () => {
  it('when a server is there (LINEUP_TEST_PG, or the throwaway cluster), then the suites run, in CI too', async () => {
    const server = await postgresForTests();
    expect(suiteMode(server, { CI: 'true' })).toBe('run');
  });
});
