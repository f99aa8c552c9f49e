import type { ChangeCursor, SubscriberChangeLog, SubscriberChangesSince } from '../subscribers/remembered-access.js';
import type { Db } from './open.js';

interface LogState {
  schema_version: number;
  trimmed: number | null;
  last: number | null;
}

/** Unknown: a schema version no database has, so that the next read cannot tell either unless it can. */
const LOST: ChangeCursor = { seq: 0, schemaVersion: -1 };

/** The subscriber_changes log (migration 12), read by servers to forget exactly who changed. */
export class SubscriberChangeStore implements SubscriberChangeLog {
  private readonly rowsAfter;
  private readonly state;

  constructor(db: Db) {
    this.rowsAfter = db.prepare('SELECT subscriber_id FROM subscriber_changes WHERE seq > ? AND seq <= ?').pluck();
    this.state = db.prepare(`
      SELECT (SELECT schema_version FROM pragma_schema_version) AS schema_version,
             (SELECT through_seq FROM subscriber_changes_trimmed WHERE id = 1) AS trimmed,
             (SELECT seq FROM sqlite_sequence WHERE name = 'subscriber_changes') AS last`);
  }

  /**
   * Who changed after `cursor`: read up to the log's end as of one look, then nothing was trimmed
   * after the cursor, and the schema (triggers included) is as it was. A trim or an edit after the
   * look costs a forget-all, never a missed change. An error (the log dropped by hand): forget all.
   */
  changesSince(cursor: ChangeCursor | undefined): SubscriberChangesSince {
    try {
      const { schema_version: schemaVersion, trimmed, last } = this.state.get() as LogState;
      const end = last ?? 0;
      const next = { seq: end, schemaVersion };
      if (!cursor || cursor.schemaVersion !== schemaVersion || trimmed === null || end < cursor.seq) {
        return { cursor: next, changed: undefined };
      }
      const changed = this.rowsAfter.all(cursor.seq, end) as number[];
      // Read after the rows: a trim that began meanwhile shows here, and the rows read are not trusted.
      const after = this.state.get() as LogState;
      if (after.schema_version !== schemaVersion || after.trimmed === null || after.trimmed > cursor.seq) {
        return { cursor: next, changed: undefined };
      }
      return { cursor: next, changed };
    } catch {
      return { cursor: LOST, changed: undefined };
    }
  }
}
