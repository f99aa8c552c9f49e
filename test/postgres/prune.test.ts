import { join } from 'node:path';
import pg from 'pg';
import { beforeEach, expect, it } from 'vitest';
import { PRUNE_LOCK } from '../../src/db/pg/prune-lock.js';
import { lineupProcess } from '../helpers/command-line.js';
import { describePostgres, freshDatabase, queryOn } from '../helpers/postgres.js';

const ROOT = join(import.meta.dirname, '../..');
const HELD = 'another node is pruning this database now (it holds the prune lock): nothing done here\n';

/** 20 lapsed long ago and 180 active: 20 is the 10% PRUNE_MAX_SHARE lets one run remove. */
async function lapsedAndActive(url: string): Promise<void> {
  await queryOn(
    url,
    `INSERT INTO subscribers (username, key_hash, expires_at)
       SELECT 'lapsed' || i, encode(sha256(('lapsed' || i)::bytea), 'hex'), '2020-01-01 00:00:00' FROM generate_series(1, 20) i;
     INSERT INTO subscribers (username, key_hash, expires_at)
       SELECT 'active' || i, encode(sha256(('active' || i)::bytea), 'hex'), '2099-01-01 00:00:00' FROM generate_series(1, 180) i`,
  );
}

const deletedBy = (stdout: string) => Number(/^deleted (\d+) subscribers? /.exec(stdout)?.[1] ?? 0);

describePostgres('lineup prune on PostgreSQL', () => {
  let url: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    url = await freshDatabase();
    env = { LINEUP_DB: url };
    expect((await lineupProcess(['init'], env, ROOT)).code).toBe(0);
    await lapsedAndActive(url);
  });

  it('when two prunes start at once while the first is still at work, then 20 are deleted in all and the other says another node holds the prune', async () => {
    // A session holding one lapsed row keeps whichever prune takes the lock at work (its DELETE
    // waits for the row) until both have started: the overlap is certain, not left to timing.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("UPDATE subscribers SET note = 'held' WHERE username = 'lapsed1'");
      const runs = [lineupProcess(['prune'], env, ROOT), lineupProcess(['prune'], env, ROOT)];
      const first = await Promise.race(runs);
      expect(first).toEqual({ code: 0, stdout: HELD, stderr: '' });
      await holder.query('ROLLBACK');
      const both = await Promise.all(runs);
      for (const run of both) expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(both.filter((run) => run.stdout === HELD)).toHaveLength(1);
      expect(both.map((run) => deletedBy(run.stdout)).reduce((a, b) => a + b)).toBe(20);
    } finally {
      await holder.end();
    }
    expect(await queryOn(url, "SELECT count(*)::int AS n FROM subscribers WHERE username LIKE 'lapsed%'")).toEqual([{ n: 0 }]);
    expect(await queryOn(url, 'SELECT count(*)::int AS n FROM pruned_subscribers')).toEqual([{ n: 20 }]);
    expect(await queryOn(url, "SELECT count(*)::int AS n FROM retired_keys WHERE reason = 'removed'")).toEqual([{ n: 20 }]);
    expect(
      await queryOn(url, 'SELECT count(*)::int AS n FROM pg_locks WHERE locktype = $1 AND objid = $2', ['advisory', lockObjid()]),
    ).toEqual([{ n: 0 }]);
  });

  it('when two prunes simply race, then the 20 are deleted once in all, and neither fails', async () => {
    const both = await Promise.all([lineupProcess(['prune'], env, ROOT), lineupProcess(['prune'], env, ROOT)]);
    for (const run of both) expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(both.map((run) => deletedBy(run.stdout)).reduce((a, b) => a + b)).toBe(20);
    expect(await queryOn(url, 'SELECT count(*)::int AS n FROM pruned_subscribers')).toEqual([{ n: 20 }]);
  });

  it('when another session holds the prune lock, then lineup prune says so in one line, exits 0 and changes nothing; a dry run still counts', async () => {
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [PRUNE_LOCK]);
      expect(await lineupProcess(['prune', '--verbose'], env, ROOT)).toEqual({ code: 0, stdout: HELD, stderr: '' });
      expect(await queryOn(url, 'SELECT count(*)::int AS n FROM subscribers')).toEqual([{ n: 200 }]);
      const dry = await lineupProcess(['prune', '--dry-run'], env, ROOT);
      expect(dry).toMatchObject({ code: 0, stderr: '' });
      expect(dry.stdout).toMatch(/^would delete 20 subscribers \(grace 7 days\); /);
    } finally {
      await other.end();
    }
    const run = await lineupProcess(['prune', '--verbose'], env, ROOT);
    expect(run.stdout).toContain('deleted lapsed1\n');
    expect(run.stdout).toMatch(/^deleted 20 subscribers \(grace 7 days\); /m);
  });

  it('when a prune deletes, then the change log holds every pruned subscriber and the last heartbeat is kept', async () => {
    const ids = await queryOn<{ id: number }>(url, "SELECT id::int FROM subscribers WHERE username LIKE 'lapsed%' ORDER BY id");
    expect((await lineupProcess(['prune'], env, ROOT)).code).toBe(0);
    const logged = await queryOn<{ id: number }>(
      url,
      'SELECT DISTINCT subscriber_id::int AS id FROM subscriber_changes WHERE subscriber_id = ANY($1::bigint[]) ORDER BY 1',
      [ids.map((row) => row.id)],
    );
    expect(logged).toEqual(ids);
    expect(await queryOn(url, "SELECT count(*)::int AS n FROM settings WHERE name = 'prune_heartbeat'")).toEqual([{ n: 1 }]);
  });
});

/** pg_locks shows a bigint advisory key as its low 32 bits in objid. */
function lockObjid(): number {
  return Number(BigInt(PRUNE_LOCK) & 0xffffffffn);
}
