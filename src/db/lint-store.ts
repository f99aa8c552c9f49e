import type { ChannelValueColumns } from '../channels/channel-fields.js';
import type { LintInput } from '../lint/lint.js';
import type { SqlTime } from '../time.js';
import { fromColumns, valueColumnList } from './channel-columns.js';
import { idList } from './id-list.js';
import type { Db } from './open.js';
import { ACTIVE_AT } from './subscriber-rules.js';

interface LintRecord extends ChannelValueColumns {
  id: number;
  stream: string;
  origin: string | null;
  enabled: number;
  package_ids: string | null;
}

/**
 * Reads what `lintLineup` needs: every channel, enabled or not, and which packages have a
 * subscriber who can fetch a playlist at `now`.
 */
export function readLintInput(db: Db, now: SqlTime): LintInput {
  const rows = db
    .prepare(
      `SELECT c.id, c.stream, ${valueColumnList('c')}, c.origin, c.enabled,
              (SELECT group_concat(package_id) FROM package_channels WHERE channel_id = c.id) AS package_ids
       FROM channels c ORDER BY c.number IS NULL, c.number, c.name, c.id`,
    )
    .all() as LintRecord[];
  const subscribed = db
    .prepare(
      `SELECT DISTINCT sp.package_id FROM subscriber_packages sp JOIN subscribers s ON s.id = sp.subscriber_id
       WHERE ${ACTIVE_AT('s')}`,
    )
    .pluck()
    .all(now) as number[];
  return {
    channels: rows.map((row) => ({
      id: row.id,
      stream: row.stream,
      ...fromColumns(row),
      origin: row.origin,
      enabled: row.enabled === 1,
      packageIds: idList(row.package_ids),
    })),
    subscribedPackageIds: new Set(subscribed),
    packageNames: new Map(db.prepare('SELECT id, name FROM packages').raw().all() as Array<[number, string]>),
    usernames: db.prepare('SELECT username FROM subscribers ORDER BY username').pluck().all() as string[],
  };
}
