import { BadInputError } from '../errors.js';
import type { ImportEntry } from '../import/upstream-m3u.js';
import type { Db } from './open.js';

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
}

export interface ImportSummary {
  added: number;
  updated: number;
  unchanged: number;
  /** New package_channels rows. */
  linked: number;
  packageCreated: boolean;
}

/** The channel fields an import writes, in `channels` column names. */
interface ImportedFields {
  name: string;
  number: number | null;
  group_title: string;
  logo: string;
  tvg_id: string;
  catchup_days: number;
  radio: number;
}

const FIELDS = ['name', 'number', 'group_title', 'logo', 'tvg_id', 'catchup_days', 'radio'] as const;

interface TrackedRecord {
  channel_id: number;
  import_key: string;
  source: string;
  current: ImportedFields;
  last: ImportedFields;
}

function fieldsOf(entry: ImportEntry): ImportedFields {
  return {
    name: entry.name,
    number: entry.number,
    group_title: entry.groupTitle,
    logo: entry.logo,
    tvg_id: entry.tvgId,
    catchup_days: entry.catchupDays,
    radio: entry.radio ? 1 : 0,
  };
}

const sameFields = (a: ImportedFields, b: ImportedFields) => FIELDS.every((field) => a[field] === b[field]);

/**
 * Upserts the entries of one upstream file, all or nothing. A field that the import wrote last
 * time and the operator has since changed keeps the operator's value (see migration 2). A channel
 * that already exists with the same origin and stream but was never imported is adopted as it
 * stands: from then on the file's values are tracked, and the operator's are kept.
 */
export function importChannels(db: Db, entries: readonly ImportEntry[], target: ImportTarget): ImportSummary {
  const originKey = target.origin ?? '';
  const summary: ImportSummary = { added: 0, updated: 0, unchanged: 0, linked: 0, packageCreated: false };

  db.exec('BEGIN IMMEDIATE');
  try {
    if (target.origin !== null && db.prepare('SELECT 1 FROM origins WHERE name = ?').get(target.origin) === undefined) {
      throw new BadInputError(`--origin "${target.origin}": no such origin; add it to the origins table first`);
    }
    let packageId: number | undefined;
    if (target.packageName !== undefined) {
      summary.packageCreated = db.prepare('INSERT INTO packages (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(target.packageName).changes === 1;
      packageId = db.prepare('SELECT id FROM packages WHERE name = ?').pluck().get(target.packageName) as number;
    }

    const tracked = new Map<string, TrackedRecord>();
    const trackedRows = db
      .prepare(
        `SELECT ci.channel_id, ci.import_key, ci.source,
                c.name, c.number, c.group_title, c.logo, c.tvg_id, c.catchup_days, c.radio,
                ci.name AS last_name, ci.number AS last_number, ci.group_title AS last_group_title, ci.logo AS last_logo,
                ci.tvg_id AS last_tvg_id, ci.catchup_days AS last_catchup_days, ci.radio AS last_radio
         FROM channel_imports ci JOIN channels c ON c.id = ci.channel_id
         WHERE ci.origin_key = ?`,
      )
      .all(originKey) as Array<Record<string, unknown>>;
    for (const row of trackedRows) {
      const pick = (prefix: string) =>
        Object.fromEntries(FIELDS.map((field) => [field, row[`${prefix}${field}`]])) as unknown as ImportedFields;
      tracked.set(row.import_key as string, {
        channel_id: row.channel_id as number,
        import_key: row.import_key as string,
        source: row.source as string,
        current: pick(''),
        last: pick('last_'),
      });
    }
    const untracked = new Map<string, number>();
    const untrackedRows = db
      .prepare(
        `SELECT c.id, c.stream FROM channels c
         WHERE c.origin IS ? AND NOT EXISTS (SELECT 1 FROM channel_imports ci WHERE ci.channel_id = c.id)
         ORDER BY c.id DESC`,
      )
      .all(target.origin) as Array<{ id: number; stream: string }>;
    for (const row of untrackedRows) untracked.set(row.stream, row.id); // descending, so the oldest wins

    const insertChannel = db.prepare(
      `INSERT INTO channels (stream, name, number, group_title, logo, tvg_id, catchup_days, radio, origin)
       VALUES (@stream, @name, @number, @group_title, @logo, @tvg_id, @catchup_days, @radio, @origin)`,
    );
    const updateChannel = db.prepare(
      `UPDATE channels SET name = @name, number = @number, group_title = @group_title, logo = @logo,
              tvg_id = @tvg_id, catchup_days = @catchup_days, radio = @radio
       WHERE id = @id`,
    );
    const upsertRecord = db.prepare(
      `INSERT INTO channel_imports (channel_id, origin_key, import_key, source, name, number, group_title, logo, tvg_id, catchup_days, radio)
       VALUES (@channel_id, @origin_key, @import_key, @source, @name, @number, @group_title, @logo, @tvg_id, @catchup_days, @radio)
       ON CONFLICT (channel_id) DO UPDATE SET
         source = excluded.source, name = excluded.name, number = excluded.number, group_title = excluded.group_title,
         logo = excluded.logo, tvg_id = excluded.tvg_id, catchup_days = excluded.catchup_days, radio = excluded.radio,
         imported_at = datetime('now')`,
    );
    const link = db.prepare('INSERT INTO package_channels (package_id, channel_id) VALUES (?, ?) ON CONFLICT DO NOTHING');

    entries.forEach((entry, index) => {
      const incoming = fieldsOf(entry);
      const record = { origin_key: originKey, import_key: entry.stream, source: target.source, ...incoming };
      let channelId: number;
      const previous = tracked.get(entry.stream);
      if (previous) {
        channelId = previous.channel_id;
        const merged = { ...previous.current };
        for (const field of FIELDS) {
          if (previous.current[field] === previous.last[field]) (merged as Record<string, unknown>)[field] = incoming[field];
        }
        if (sameFields(merged, previous.current)) summary.unchanged++;
        else {
          updateChannel.run({ id: channelId, ...merged });
          summary.updated++;
        }
        if (!sameFields(incoming, previous.last) || previous.source !== target.source) upsertRecord.run({ channel_id: channelId, ...record });
      } else if (untracked.has(entry.stream)) {
        channelId = untracked.get(entry.stream)!;
        untracked.delete(entry.stream);
        upsertRecord.run({ channel_id: channelId, ...record });
        summary.unchanged++;
      } else {
        channelId = Number(insertChannel.run({ stream: entry.stream, origin: target.origin, ...incoming }).lastInsertRowid);
        upsertRecord.run({ channel_id: channelId, ...record });
        summary.added++;
      }
      if (packageId !== undefined) summary.linked += link.run(packageId, channelId).changes;
      target.onProgress?.(index + 1, entries.length);
    });

    db.exec(target.dryRun ? 'ROLLBACK' : 'COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
  return summary;
}
