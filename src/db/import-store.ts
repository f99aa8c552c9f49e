import type { ChannelValueColumns } from '../channels/channel-fields.js';
import { BadInputError } from '../errors.js';
import { type ImportedValues, importedValues, mergeReimport, sameValues, withUnsaidKept } from '../import/reimport.js';
import type { ImportEntry } from '../import/upstream-m3u.js';
import { fromColumns, toColumnValues, VALUE_PARAMETERS, valueAssignments, valueColumnList } from './channel-columns.js';
import type { SqlSession } from './sql-session.js';
import type { TransactionHooks } from './transaction-hooks.js';

export interface ImportTarget {
  /** The file's name, recorded per channel so that an operator can see where a channel came from. */
  source: string;
  /** An `origins.name` for every imported channel; null for the default origin. */
  origin: string | null;
  /** Links every imported channel to this package, creating it if needed. */
  packageName?: string;
  /** Computes the summary, then rolls everything back. */
  dryRun?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Run inside the import's transaction, around the writes (a dry run's too). */
  hooks?: TransactionHooks;
}

export interface ImportSummary {
  added: number;
  updated: number;
  unchanged: number;
  /** New package_channels rows. */
  linked: number;
  packageCreated: boolean;
}

const VALUE_COLUMNS = valueColumnList();

/** The import's statements, in SQL that SQLite and PostgreSQL read alike (see SqlSession). */
const SQL = {
  originExists: 'SELECT 1 AS found FROM origins WHERE name = ?',
  addPackage: 'INSERT INTO packages (name) VALUES (?) ON CONFLICT (name) DO NOTHING',
  packageId: 'SELECT id FROM packages WHERE name = ?',
  importedChannels: `SELECT id, ${VALUE_COLUMNS} FROM channels WHERE id IN (SELECT channel_id FROM channel_imports WHERE origin_key = ?)`,
  importRecords: `SELECT channel_id, import_key, source, ${VALUE_COLUMNS} FROM channel_imports WHERE origin_key = ?`,
  handMade: `SELECT c.id, c.stream FROM channels c
    WHERE c.origin IS NOT DISTINCT FROM ? AND NOT EXISTS (SELECT 1 FROM channel_imports ci WHERE ci.channel_id = c.id)
    ORDER BY c.id DESC`,
  insertChannel: `INSERT INTO channels (stream, origin, ${VALUE_COLUMNS}) VALUES (?, ?, ${VALUE_PARAMETERS}) RETURNING id`,
  updateChannel: `UPDATE channels SET ${valueAssignments('?')} WHERE id = ?`,
  // imported_at: the column's default, which excluded holds, so that each backend dates it its own way.
  recordImport: `INSERT INTO channel_imports (channel_id, origin_key, import_key, source, ${VALUE_COLUMNS})
    VALUES (?, ?, ?, ?, ${VALUE_PARAMETERS})
    ON CONFLICT (channel_id) DO UPDATE SET
      source = excluded.source, ${valueAssignments('excluded.')}, imported_at = excluded.imported_at`,
  link: 'INSERT INTO package_channels (package_id, channel_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
};

interface Tracked {
  channelId: number;
  source: string;
  lastImported: ImportedValues;
  current: ImportedValues;
}

/** Channels of this origin that an import has written before, by the stream they were imported as. */
function readTracked(sql: SqlSession, originKey: string): Map<string, Tracked> {
  const current = new Map(
    sql.all<ChannelValueColumns & { id: number }>(SQL.importedChannels, [originKey]).map((row) => [Number(row.id), fromColumns(row)]),
  );
  const records = sql.all<ChannelValueColumns & { channel_id: number; import_key: string; source: string }>(SQL.importRecords, [originKey]);
  return new Map(
    records.map((row) => [
      row.import_key,
      {
        channelId: Number(row.channel_id),
        source: row.source,
        lastImported: fromColumns(row),
        current: current.get(Number(row.channel_id))!,
      },
    ]),
  );
}

/** Channels of this origin that no import wrote (made by hand), by stream; the oldest one per stream. */
function readUntracked(sql: SqlSession, origin: string | null): Map<string, number> {
  const rows = sql.all<{ id: number; stream: string }>(SQL.handMade, [origin]);
  return new Map(rows.map((row) => [row.stream, Number(row.id)]));
}

/** Thrown to roll a dry run back, carrying what it would have done. */
class DryRunDone extends Error {
  constructor(readonly summary: ImportSummary) {
    super('dry run');
  }
}

/**
 * Upserts the entries of one upstream file, all or nothing, on either backend. A field that the
 * import wrote last time and the operator has since changed keeps the operator's value (see
 * migration 2 and `mergeReimport`). A channel that already exists with the same origin and stream
 * but was never imported is adopted as it stands: from then on the file's values are tracked, and
 * the operator's are kept.
 */
export function importChannels(sql: SqlSession, entries: readonly ImportEntry[], target: ImportTarget): ImportSummary {
  try {
    return sql.write(() => {
      const summary = writeImport(sql, entries, target);
      if (target.dryRun) throw new DryRunDone(summary);
      return summary;
    });
  } catch (error) {
    if (error instanceof DryRunDone) return error.summary;
    throw error;
  }
}

function writeImport(sql: SqlSession, entries: readonly ImportEntry[], target: ImportTarget): ImportSummary {
  const originKey = target.origin ?? '';
  const summary: ImportSummary = { added: 0, updated: 0, unchanged: 0, linked: 0, packageCreated: false };
  target.hooks?.begin?.();
  if (target.origin !== null && sql.all(SQL.originExists, [target.origin]).length === 0) {
    throw new BadInputError(`--origin "${target.origin}": no such origin; add it to the origins table first`);
  }
  let packageId: number | undefined;
  if (target.packageName !== undefined) {
    summary.packageCreated = sql.run(SQL.addPackage, [target.packageName]) === 1;
    packageId = Number(sql.all<{ id: number }>(SQL.packageId, [target.packageName])[0]!.id);
  }
  const tracked = readTracked(sql, originKey);
  const untracked = readUntracked(sql, target.origin);

  entries.forEach((entry, index) => {
    const previous = tracked.get(entry.stream);
    const handMade = untracked.get(entry.stream);
    const incoming = previous ? withUnsaidKept(importedValues(entry), previous.lastImported) : importedValues(entry);
    const record = (channelId: number) =>
      sql.run(SQL.recordImport, [channelId, originKey, entry.stream, target.source, ...toColumnValues(incoming)]);
    let channelId: number;
    if (previous) {
      channelId = previous.channelId;
      const merged = mergeReimport(previous.current, previous.lastImported, incoming);
      if (sameValues(merged, previous.current)) summary.unchanged++;
      else {
        sql.run(SQL.updateChannel, [...toColumnValues(merged), channelId]);
        summary.updated++;
      }
      if (!sameValues(incoming, previous.lastImported) || previous.source !== target.source) record(channelId);
    } else if (handMade !== undefined) {
      channelId = handMade;
      record(channelId);
      summary.unchanged++;
    } else {
      const [inserted] = sql.all<{ id: number }>(SQL.insertChannel, [entry.stream, target.origin, ...toColumnValues(incoming)]);
      channelId = Number(inserted!.id);
      record(channelId);
      summary.added++;
    }
    if (packageId !== undefined) summary.linked += sql.run(SQL.link, [packageId, channelId]);
    target.onProgress?.(index + 1, entries.length);
  });

  target.hooks?.beforeCommit?.();
  return summary;
}
