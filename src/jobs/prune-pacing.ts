import { getPriority, setPriority } from 'node:os';

/**
 * How much lower than its parent a prune runs (`nice`): a server on the same cores then wins them
 * whenever it has requests to answer, and the prune takes what is left.
 */
const PRUNE_NICENESS = 10;

/**
 * Lowers the calling thread's CPU priority by PRUNE_NICENESS: on Linux a priority is per thread,
 * so `lineup prune` lowers its main thread, and the server's prune thread itself alone. Never
 * raised again (an unprivileged process could not).
 */
export function lowerThreadPriority(): void {
  try {
    setPriority(Math.min(19, getPriority() + PRUNE_NICENESS));
  } catch {
    // Not allowed here (a container's seccomp profile, say): the prune runs at the priority it has.
  }
}

/**
 * Returns a rest to call after each chunk: it blocks this thread as long as the chunk took, so that
 * a server on the same cores keeps about half of the time (and of the disk) while the prune runs.
 * Only for a thread that serves nothing (`lineup prune`, the server's prune thread). A rest ends at
 * once when `stop[0]` is set and notified.
 */
export function restingAsLongAsWorked(stop = new Int32Array(new SharedArrayBuffer(4))): () => void {
  let since = performance.now();
  return () => {
    Atomics.wait(stop, 0, 0, performance.now() - since);
    since = performance.now();
  };
}
