import type { ChannelValueColumns } from '../channels/channel-fields.js';
import { BadInputError } from '../errors.js';
import { type ImportedValues, importedValues, mergeReimport, sameValues, withUnsaidKept } from '../import/reimport.js';
import type { ImportEntry } from '../import/upstream-m3u.js';
import { fromColumns, toColumns, VALUE_PARAMETERS, valueAssignments, valueColumnList } from './channel-columns.js';
import type { Db } from './open.js';
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

interface Tracked {
  channelId: number;
  source: string;
  lastImported: ImportedValues;
  current: ImportedValues;
}

/** Channels of this origin that an import has written before, by the stream they were imported as. */
function readTracked(db: Db, originKey: string): Map<string, Tracked> {
  const current = new Map(
    (
      db
        .prepare(`SELECT id, ${VALUE_COLUMNS} FROM channels WHERE id IN (SELECT channel_id FROM channel_imports WHERE origin_key = ?)`)
        .all(originKey) as Array<ChannelValueColumns & { id: number }>
    ).map((row) => [row.id, fromColumns(row)]),
  );
  const records = db
    .prepare(`SELECT channel_id, import_key, source, ${VALUE_COLUMNS} FROM channel_imports WHERE origin_key = ?`)
    .all(originKey) as Array<ChannelValueColumns & { channel_id: number; import_key: string; source: string }>;
  return new Map(
    records.map((row) => [
      row.import_key,
      { channelId: row.channel_id, source: row.source, lastImported: fromColumns(row), current: current.get(row.channel_id)! },
    ]),
  );
}

/** Channels of this origin that no import wrote (made by hand), by stream; the oldest one per stream. */
function readUntracked(db: Db, origin: string | null): Map<string, number> {
  const rows = db
    .prepare(
      `SELECT c.id, c.stream FROM channels c
       WHERE c.origin IS ? AND NOT EXISTS (SELECT 1 FROM channel_imports ci WHERE ci.channel_id = c.id)
       ORDER BY c.id DESC`,
    )
    .all(origin) as Array<{ id: number; stream: string }>;
  return new Map(rows.map((row) => [row.stream, row.id]));
}

/**
 * Upserts the entries of one upstream file, all or nothing. A field that the import wrote last
 * time and the operator has since changed keeps the operator's value (see migration 2 and
 * `mergeReimport`). A channel that already exists with the same origin and stream but was never
 * imported is adopted as it stands: from then on the file's values are tracked, and the
 * operator's are kept.
 */
export function importChannels(db: Db, entries: readonly ImportEntry[], target: ImportTarget): ImportSummary {
  const originKey = target.origin ?? '';
  const summary: ImportSummary = { added: 0, updated: 0, unchanged: 0, linked: 0, packageCreated: false };

  db.exec('BEGIN IMMEDIATE');
  try {
    target.hooks?.begin?.();
    if (target.origin !== null && db.prepare('SELECT 1 FROM origins WHERE name = ?').get(target.origin) === undefined) {
      throw new BadInputError(`--origin "${target.origin}": no such origin; add it to the origins table first`);
    }
    let packageId: number | undefined;
    if (target.packageName !== undefined) {
      summary.packageCreated =
        db.prepare('INSERT INTO packages (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(target.packageName).changes === 1;
      packageId = db.prepare('SELECT id FROM packages WHERE name = ?').pluck().get(target.packageName) as number;
    }
    const tracked = readTracked(db, originKey);
    const untracked = readUntracked(db, target.origin);

    const insertChannel = db.prepare(
      `INSERT INTO channels (stream, origin, ${VALUE_COLUMNS})
       VALUES (@stream, @origin, ${VALUE_PARAMETERS})`,
    );
    const updateChannel = db.prepare(`UPDATE channels SET ${valueAssignments('@')} WHERE id = @id`);
    const recordImport = db.prepare(
      `INSERT INTO channel_imports (channel_id, origin_key, import_key, source, ${VALUE_COLUMNS})
       VALUES (@channel_id, @origin_key, @import_key, @source, ${VALUE_PARAMETERS})
       ON CONFLICT (channel_id) DO UPDATE SET
         source = excluded.source, ${valueAssignments('excluded.')}, imported_at = datetime('now')`,
    );
    const link = db.prepare('INSERT INTO package_channels (package_id, channel_id) VALUES (?, ?) ON CONFLICT DO NOTHING');

    entries.forEach((entry, index) => {
      const previous = tracked.get(entry.stream);
      const handMade = untracked.get(entry.stream);
      const incoming = previous ? withUnsaidKept(importedValues(entry), previous.lastImported) : importedValues(entry);
      const record = (channelId: number) =>
        recordImport.run({
          channel_id: channelId,
          origin_key: originKey,
          import_key: entry.stream,
          source: target.source,
          ...toColumns(incoming),
        });
      let channelId: number;
      if (previous) {
        channelId = previous.channelId;
        const merged = mergeReimport(previous.current, previous.lastImported, incoming);
        if (sameValues(merged, previous.current)) summary.unchanged++;
        else {
          updateChannel.run({ id: channelId, ...toColumns(merged) });
          summary.updated++;
        }
        if (!sameValues(incoming, previous.lastImported) || previous.source !== target.source) record(channelId);
      } else if (handMade !== undefined) {
        channelId = handMade;
        record(channelId);
        summary.unchanged++;
      } else {
        channelId = Number(insertChannel.run({ stream: entry.stream, origin: target.origin, ...toColumns(incoming) }).lastInsertRowid);
        record(channelId);
        summary.added++;
      }
      if (packageId !== undefined) summary.linked += link.run(packageId, channelId).changes;
      target.onProgress?.(index + 1, entries.length);
    });

    target.hooks?.beforeCommit?.();
    db.exec(target.dryRun ? 'ROLLBACK' : 'COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
  return summary;
}
