import type { LineupStore } from './lineup-store.js';
import { assertWritable, type Db, fileIdentityAt, isDatabaseBusy, openedFileIdentity } from './open.js';

/** Which check `/healthz` failed, and a short reason: no path, no SQL text, no secret. */
export interface HealthProblem {
  check: 'file' | 'lineup' | 'write' | 'database';
  reason: string;
}

export interface DatabaseHealthOptions {
  /** How long a write probe's answer is kept: a probe takes the write lock, so not once per request. */
  writeProbeMs?: number;
  /** Milliseconds, for the write probe's cache; tests pass their own. */
  now?: () => number;
}

const DEFAULT_WRITE_PROBE_MS = 5000;

/**
 * What `/healthz` asks: undefined while the database can serve, else the first problem.
 *
 * - file: LINEUP_DB no longer names the file this connection opened (deleted, or replaced by a
 *   copy or a restore). The server would go on serving the old inode, and the next start would
 *   come up on whatever is there now.
 * - lineup: the channels and origins cannot be read, as the playlists read them. Read again only
 *   when the database changed (or the last read failed), like the playlist cache, so a check costs
 *   one `data_version` look.
 * - write: a rolled-back `BEGIN IMMEDIATE` fails (disk, permissions, a read-only remount); kept for
 *   a few seconds. A lock held by someone else counts as writable: somebody is writing.
 */
export function databaseHealth(
  db: Db,
  path: string,
  lineup: LineupStore,
  options: DatabaseHealthOptions = {},
): () => HealthProblem | undefined {
  const { writeProbeMs = DEFAULT_WRITE_PROBE_MS, now = Date.now } = options;
  const opened = openedFileIdentity(db);
  let readMarker: string | undefined;
  let writeCheckedAt = Number.NEGATIVE_INFINITY;
  let writeProblem: HealthProblem | undefined;

  const fileProblem = (): HealthProblem | undefined => {
    if (!opened) return undefined;
    const current = fileIdentityAt(path);
    if (current?.dev === opened.dev && current.ino === opened.ino) return undefined;
    return { check: 'file', reason: 'database file replaced or deleted' };
  };

  const lineupProblem = (): HealthProblem | undefined => {
    try {
      const marker = lineup.writeMarkerValue();
      if (marker === readMarker) return undefined;
      lineup.channels();
      lineup.origins();
      readMarker = marker;
      return undefined;
    } catch (error) {
      readMarker = undefined;
      if (isDatabaseBusy(error)) return undefined;
      return { check: 'lineup', reason: 'the lineup cannot be read' };
    }
  };

  const probeWrite = (): HealthProblem | undefined => {
    // A transaction of this connection's own (synchronous code only) would be rolled back by the probe.
    if (now() - writeCheckedAt < writeProbeMs || db.inTransaction) return writeProblem;
    try {
      assertWritable(db);
      writeProblem = undefined;
    } catch {
      writeProblem = { check: 'write', reason: 'the database cannot be written' };
    }
    writeCheckedAt = now();
    return writeProblem;
  };

  return () => fileProblem() ?? lineupProblem() ?? probeWrite();
}
