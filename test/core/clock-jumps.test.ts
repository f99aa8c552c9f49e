import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GuessLimiter } from '../../src/http/guess-limiter.js';
import { type PruneSchedule, schedulePrune } from '../../src/jobs/prune-schedule.js';
import type { PruneResult } from '../../src/subscribers/prune.js';
import { captureLogs } from '../helpers/lineup.js';

const DAY_MS = 86_400_000;

describe('the prune schedule across wall-clock jumps', () => {
  let schedule: PruneSchedule | undefined;
  const written: string[] = [];

  beforeEach(() => {
    written.length = 0;
    // Whatever reaches the process's own stdout or stderr, node-cron's console logger included.
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
    }
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void written.push(args.join(' ')));
    }
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date('2030-01-01T10:30:00Z'));
  });

  afterEach(async () => {
    await schedule?.stop();
    schedule = undefined;
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  function start() {
    const runs: number[] = [];
    const { logger, logs } = captureLogs();
    const prune = (): PruneResult => {
      runs.push(Date.now());
      return { usernames: [], forgottenKeys: 0, purged: 0, dryRun: false };
    };
    schedule = schedulePrune('0 * * * *', prune, logger);
    return { runs, logs };
  }

  it('when the clock jumps 400 days ahead, then the hourly job runs once, not once per skipped slot, and nothing but JSON is written', () => {
    const { runs, logs } = start();
    vi.advanceTimersByTime(30 * 60_000);
    expect(runs).toEqual([Date.parse('2030-01-01T11:00:00Z')]);

    vi.setSystemTime(Date.now() + 400 * DAY_MS);
    vi.advanceTimersByTime(60_000);
    expect(runs).toHaveLength(2);
    vi.advanceTimersByTime(59 * 60_000);
    expect(runs).toHaveLength(3); // the next slot of the new time, and no more

    expect(written).toEqual([]);
    expect(logs.lines.length).toBe(3);
    for (const line of logs.lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('when the clock jumps a day back, then the job runs at the next slot of the new time instead of waiting a day', () => {
    const { runs } = start();
    vi.advanceTimersByTime(30 * 60_000);
    expect(runs).toHaveLength(1);
    vi.setSystemTime(Date.now() - DAY_MS);
    vi.advanceTimersByTime(60 * 60_000);
    expect(runs).toHaveLength(2);
    expect(new Date(runs[1]!).toISOString()).toBe('2029-12-31T12:00:00.000Z');
    expect(written).toEqual([]);
  });

  it('when a run is still going at the next slots, then no second run starts until it ends; then one does at the next slot', async () => {
    const runs: number[] = [];
    let finish: (() => void) | undefined;
    schedule = schedulePrune(
      '0 * * * *',
      () => {
        runs.push(Date.now());
        return new Promise<PruneResult>((resolve) => {
          finish = () => resolve({ usernames: [], forgottenKeys: 0, purged: 0, dryRun: false });
        });
      },
      captureLogs().logger,
    );
    await vi.advanceTimersByTimeAsync(3 * 60 * 60_000);
    expect(runs).toHaveLength(1);
    finish!();
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(runs).toHaveLength(2);
    expect(new Date(runs[1]!).toISOString()).toBe('2030-01-01T14:00:00.000Z');
    finish!();
  });

  it('when stopped during a run, then the run is told to end and stop waits for it', async () => {
    let signalled: AbortSignal | undefined;
    let ended = false;
    schedule = schedulePrune(
      '0 * * * *',
      (signal) => {
        signalled = signal;
        return new Promise<PruneResult>((resolve) =>
          signal.addEventListener('abort', () =>
            setTimeout(() => {
              ended = true;
              resolve({ usernames: [], forgottenKeys: 0, purged: 0, dryRun: false, stopped: true });
            }, 1000),
          ),
        );
      },
      captureLogs().logger,
    );
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    expect(signalled?.aborted).toBe(false);
    const stopping = schedule.stop();
    expect(signalled?.aborted).toBe(true);
    expect(ended).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(ended).toBe(true);
  });

  it('when stopped, then it runs no more', async () => {
    const { runs } = start();
    await schedule!.stop();
    vi.advanceTimersByTime(3 * 60 * 60_000);
    expect(runs).toEqual([]);
  });
});

describe('the key-guess limiter across wall-clock jumps', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('when the wall clock jumps back a day or ahead a day, then a block lasts GUESS_BLOCK as before: its default clock is monotonic', () => {
    const limits = { maxFailures: 2, windowSeconds: 600, blockSeconds: 900, maxTracked: 100 };
    const limiter = new GuessLimiter(limits);
    for (let n = 0; n <= limits.maxFailures; n++) limiter.recordFailure('192.0.2.1');
    expect(limiter.retryAfter('192.0.2.1')).toBe(900);

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - DAY_MS);
    expect(limiter.retryAfter('192.0.2.1')).toBeLessThanOrEqual(900);
    vi.setSystemTime(Date.now() + 2 * DAY_MS);
    expect(limiter.retryAfter('192.0.2.1')).toBeGreaterThan(0);
  });
});
