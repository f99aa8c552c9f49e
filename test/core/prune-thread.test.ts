import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { LINEUP_BIN } from '../build-once.js';
import { fetchFrom, startTestLineup, tempDir } from '../helpers/lineup.js';
import { type ServeProcess, serveProcess } from '../helpers/serve-process.js';
import { insertSubscribers, LONG_AGO } from './support.js';

/** Four of the prune's chunks of 5,000: on a loaded machine, at nice +10 and resting, a run of several seconds. */
const LAPSED = 20_000;
const CHUNK = 5000;

const children: ChildProcess[] = [];
const temps: (() => void)[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const cleanup of temps.splice(0)) cleanup();
});

/** The built server (`lineup serve`), pruning every second, and LAPSED long-lapsed subscribers added once it runs. */
async function builtServerAboutToPrune(): Promise<{ served: ServeProcess; pruned: () => number; lapsedLeft: () => number }> {
  const temp = tempDir();
  temps.push(temp.cleanup);
  const dbPath = join(temp.dir, 'lineup.db');
  const served = await serveProcess(
    {
      LINEUP_DB: dbPath,
      HOST: '127.0.0.1',
      PORT: '0',
      SECURETOKEN_KEY: 'k',
      ORIGIN_URL: 'http://origin.test',
      LOG_LEVEL: 'info',
      PRUNE_CRON: '* * * * * *',
      PRUNE_GRACE_DAYS: '7',
      PRUNE_MAX_SHARE: '100',
    },
    children,
  );
  insertSubscribers(dbPath, LAPSED, 'gone-', LONG_AGO);
  const reader = new Database(dbPath, { readonly: true });
  temps.unshift(() => reader.close());
  const count = reader.prepare('SELECT count(*) FROM pruned_subscribers').pluck();
  const left = reader.prepare("SELECT count(*) FROM subscribers WHERE username LIKE 'gone-%'").pluck();
  return { served, pruned: () => count.get() as number, lapsedLeft: () => left.get() as number };
}

/** The nice value of each thread of `pid`, by thread id (field 19 of /proc/PID/task/TID/stat). */
function threadNiceness(pid: number): Map<number, number> {
  const niceness = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      niceness.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return niceness;
}

async function until(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 50_000; !condition(); ) {
    if (Date.now() > deadline) throw new Error('condition not met in 50 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const pruneLogs = (served: ServeProcess) =>
  served
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { job?: string; msg: string; deleted?: number })
    .filter((line) => line.job === 'prune');

describe.runIf(process.platform === 'linux')("the built server's scheduled prune", () => {
  it('when it runs, then it runs on a thread of lower CPU priority than the one that answers requests, which answers meanwhile', async () => {
    const { served, pruned } = await builtServerAboutToPrune();
    const pid = served.child.pid!;
    const finished = () => pruneLogs(served).some((line) => line.msg.startsWith('prune finished') && line.deleted === LAPSED);

    let lowered: number[] = [];
    await until(() => {
      lowered = [...threadNiceness(pid)].filter(([, nice]) => nice > 0).map(([tid]) => tid);
      return lowered.length > 0 || finished();
    });
    expect(lowered).not.toContain(pid);
    expect(lowered.length).toBeGreaterThan(0);
    expect(threadNiceness(pid).get(pid)).toBe(0);
    const health = await fetchFrom(`${served.url}/healthz`);
    expect(health.status).toBe(200);

    await until(finished);
    expect(pruned()).toBe(LAPSED);
  }, 60_000);

  it('when the server stops during a run, then the thread ends between two chunks: those done stay committed, the rest is left', async () => {
    const { served, pruned, lapsedLeft } = await builtServerAboutToPrune();
    await until(() => pruned() > 0);
    served.child.kill('SIGTERM');
    expect(await served.exited).toEqual({ code: 0, signal: null });

    const done = pruned();
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(LAPSED);
    expect(done % CHUNK).toBe(0);
    expect(done + lapsedLeft()).toBe(LAPSED);
    expect(pruneLogs(served).filter((line) => line.deleted !== 0)).toEqual([
      expect.objectContaining({ msg: 'prune stopped with the server; the next run prunes the rest', deleted: done }),
    ]);
  }, 60_000);

  it('when lineup prune runs, then it runs at a lower CPU priority than the shell that started it', async () => {
    const lineup = await startTestLineup({ env: { PRUNE_GRACE_DAYS: '7', PRUNE_MAX_SHARE: '100' } });
    temps.push(() => void lineup.close());
    await lineup.stop();
    insertSubscribers(lineup.dbPath, 100, 'gone-', LONG_AGO);
    const child = spawn(process.execPath, [LINEUP_BIN, 'prune'], { env: { ...process.env, ...lineup.env }, stdio: 'ignore' });
    children.push(child);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let niceness = 0;
    let done = false;
    void exited.then(() => {
      done = true;
    });
    await until(() => {
      try {
        niceness = threadNiceness(child.pid!).get(child.pid!) ?? 0;
      } catch {
        // it has exited already
      }
      return niceness > 0 || done;
    });
    // Its main thread, which prunes; started at this thread's priority.
    expect(niceness).toBe(Math.min(19, getPriority() + 10));
    expect(await exited).toBe(0);
  }, 60_000);
});
