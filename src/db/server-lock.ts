import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * `LINEUP_DB.lock`, holding the pid of the server that has the database open, so that
 * `lineup db restore` can refuse to replace the file under it (the server would go on with the
 * inode it opened, and its WAL). A plain file rather than an OS lock: a lock held by a process
 * that died (kill -9) is told apart by asking whether that pid still lives.
 */
export const lockPathOf = (dbPath: string) => `${dbPath}.lock`;

function pidIn(lockPath: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a live server that holds the database, if any; a stale lock (a killed server) counts as none. */
export function serverHolding(dbPath: string): number | undefined {
  const pid = pidIn(lockPathOf(dbPath));
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

export interface ServerLock {
  release(): void;
}

/**
 * Writes this process's pid into the lock, unless another live server holds it (two servers on one
 * database: the first one's lock stands). `release` removes the lock only if it is still ours.
 * A lock that cannot be written is warned about, and serving goes on: it only guards restores.
 */
export function holdServerLock(dbPath: string, warn: (message: string) => void): ServerLock {
  const lockPath = lockPathOf(dbPath);
  const release = () => {
    if (pidIn(lockPath) === process.pid) rmSync(lockPath, { force: true });
  };
  if (dbPath === ':memory:') return { release: () => {} };
  const holder = serverHolding(dbPath);
  if (holder !== undefined && holder !== process.pid) return { release: () => {} };
  try {
    writeFileSync(lockPath, `${process.pid}\n`);
  } catch (error) {
    warn(
      `cannot write ${lockPath} (${(error as NodeJS.ErrnoException).code ?? 'error'}): lineup db restore will not know that this server has the database open`,
    );
    return { release: () => {} };
  }
  return { release };
}
