import type { ChannelValueColumns } from '../channels/channel-fields.js';
import type { LintInput } from '../lint/lint.js';
import type { SqlTime } from '../time.js';
import { fromColumns, valueColumnList } from './channel-columns.js';
import type { SqlSession } from './sql-session.js';
import { ACTIVE_AT } from './subscriber-rules.js';

interface LintRecord extends ChannelValueColumns {
  id: number;
  stream: string;
  origin: string | null;
  enabled: number;
}

/**
 * What `lintLineup` needs, as queries that read the same on SQLite and PostgreSQL (`?`
 * placeholders; no aggregate that differs between the two), so that either backend's reader runs
 * them and `toLintInput` makes one input of their rows: the rules are written once. `byteOrder`
 * orders names as SQLite does (SqlSession.byteOrder), so that findings list them alike.
 */
export const lintQueries = (now: SqlTime, byteOrder = '') =>
  ({
    channels: [
      `SELECT c.id, c.stream, ${valueColumnList('c')}, c.origin, c.enabled
       FROM channels c ORDER BY c.number IS NULL, c.number, c.name${byteOrder}, c.id`,
      [],
    ],
    packageLinks: ['SELECT channel_id, package_id FROM package_channels ORDER BY channel_id, package_id', []],
    subscribedPackages: [
      `SELECT DISTINCT sp.package_id FROM subscriber_packages sp JOIN subscribers s ON s.id = sp.subscriber_id
       WHERE ${ACTIVE_AT('s')}`,
      [now],
    ],
    packages: ['SELECT id, name FROM packages', []],
    usernames: [`SELECT username FROM subscribers ORDER BY username${byteOrder}`, []],
  }) satisfies Record<string, [string, unknown[]]>;

export type LintRows = { [K in keyof ReturnType<typeof lintQueries>]: Array<Record<string, unknown>> };

/** The rows of `lintQueries`, whichever backend read them, as `lintLineup`'s input. */
export function toLintInput(rows: LintRows): LintInput {
  const packageIds = new Map<number, number[]>();
  for (const { channel_id, package_id } of rows.packageLinks as Array<{ channel_id: number; package_id: number }>) {
    const ids = packageIds.get(Number(channel_id)) ?? [];
    ids.push(Number(package_id));
    packageIds.set(Number(channel_id), ids);
  }
  return {
    channels: (rows.channels as unknown as LintRecord[]).map((row) => ({
      id: Number(row.id),
      stream: row.stream,
      ...fromColumns(row),
      origin: row.origin,
      enabled: row.enabled === 1,
      packageIds: packageIds.get(Number(row.id)) ?? [],
    })),
    subscribedPackageIds: new Set(rows.subscribedPackages.map((row) => Number(row.package_id))),
    packageNames: new Map(rows.packages.map((row) => [Number(row.id), row.name as string])),
    usernames: rows.usernames.map((row) => row.username as string),
  };
}

/**
 * Reads what `lintLineup` needs: every channel, enabled or not, and which packages have a
 * subscriber who can fetch a playlist at `now`.
 */
export function readLintInput(sql: SqlSession, now: SqlTime): LintInput {
  const queries = lintQueries(now, sql.byteOrder);
  const rows = Object.fromEntries(
    Object.entries(queries).map(([name, [text, params]]) => [name, sql.all<Record<string, unknown>>(text, params)]),
  ) as LintRows;
  return toLintInput(rows);
}
