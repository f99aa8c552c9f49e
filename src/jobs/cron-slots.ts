import cron from 'node-cron';

/**
 * The longest a schedule sleeps before it reads the wall clock again. A timer counts monotonic
 * time, so after a jump of the wall clock the schedule notices within this long: a forward jump
 * runs the job once, a backward one moves the next run back to the next slot of the new time.
 */
const MAX_SLEEP_MS = 60_000;

export interface CronSchedule {
  /** Stops the schedule, and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

/**
 * Runs `run` on the cron expression, in UTC: after each slot passes, once, then at the next slot
 * after the current time; a run that takes longer than a slot is never overlapped. node-cron only
 * computes the slots (a task that is never started: it prints nothing and holds no timer); the
 * timer is ours, because node-cron's own runner walks every slot a forward clock jump skipped,
 * printing a non-JSON "missed execution" line for each (9,601 for +400 days hourly) and stalling
 * the process while it does. `run` must not throw: a job logs its own failures.
 */
export function onCronSlots(expression: string, name: string, run: () => void | Promise<void>): CronSchedule {
  const slots = cron.createTask(expression, () => undefined, { name, timezone: 'UTC' });
  const nextSlot = () => slots.getNextRuns(1)[0]!.getTime();
  let next = nextSlot();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const rearm = () => {
    running = undefined;
    // Strictly after now: one run however many slots a jump skipped, and an earlier slot after a jump back.
    next = nextSlot();
    arm();
  };
  // A run that returns no promise is waited for in the same turn, as a synchronous job expects.
  const tick = () => {
    const result = Date.now() >= next ? run() : undefined;
    if (result) running = result.then(rearm);
    else rearm();
  };
  const arm = () => {
    if (!stopped) timer = setTimeout(tick, Math.min(Math.max(0, next - Date.now()), MAX_SLEEP_MS));
  };
  arm();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
      await slots.destroy();
    },
  };
}
