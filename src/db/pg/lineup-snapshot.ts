import type pg from 'pg';
import type { Channel } from '../../playlist/lineup.js';
import type { OriginRow } from '../../signing/origin.js';
import { valueColumnList } from '../channel-columns.js';
import { type ChannelColumns, channelOf, ORIGIN_COLUMNS, type OriginRecord, originOf } from '../lineup-rows.js';
import { type ChannelPlacement, type PlacementRow, placementsOf } from '../xc-catalog-store.js';

/** What playlists and the Xtream Codes lists are compiled from, as of one moment. */
export interface LineupSnapshot {
  /** lineup_changes.version: moves when channels, origins, packages or categories changed. */
  lineupVersion: string;
  /** lineup_version.version: moves on those and on any write to subscribers' access as well. */
  accessVersion: string;
  /** LineupStore.channels(): enabled channels in playlist order. */
  channels: Channel[];
  /** LineupStore.origins(): by name. */
  origins: OriginRow[];
  /** XcCatalogStore.categories(). */
  categories: Map<number, string>;
  /** XcCatalogStore.channelPlacements(). */
  placements: Map<number, ChannelPlacement>;
}

/**
 * A deleted version row (an admin's DELETE) must still move on every change, as SQLite's
 * fallback does: the snapshot's xmax moves with every commit anywhere.
 */
const VERSIONS = `
  SELECT coalesce((SELECT version::text FROM lineup_changes WHERE id = 1), 'snapshot ' || pg_snapshot_xmax(pg_current_snapshot())) AS lineup,
         coalesce((SELECT version::text FROM lineup_version WHERE id = 1), 'snapshot ' || pg_snapshot_xmax(pg_current_snapshot())) AS access`;

/**
 * SQLite's order, byte for byte: NULL numbers last, and names by COLLATE "C", which compares as
 * SQLite's BINARY does whatever the database's locale. Package ids by the primary key, as
 * SQLite's WITHOUT ROWID index hands them to group_concat.
 */
const CHANNELS = `
  SELECT c.id, c.stream, ${valueColumnList('c')}, c.origin,
         ARRAY(SELECT pc.package_id FROM package_channels pc WHERE pc.channel_id = c.id ORDER BY pc.package_id) AS package_ids
  FROM channels c
  WHERE c.enabled = 1
  ORDER BY c.number IS NULL, c.number, c.name COLLATE "C", c.id`;

const ORIGINS = `SELECT ${ORIGIN_COLUMNS} FROM origins ORDER BY name COLLATE "C"`;

const CATEGORIES = 'SELECT id, group_title FROM categories';

/** strftime('%s', created_at): NULL where SQLite could not read the text either (datetime() says). */
const PLACEMENTS = `
  SELECT c.id AS channel_id, cat.id AS category_id, extract(epoch FROM lineup_compat.datetime(c.created_at)::timestamp)::bigint AS added
  FROM channels c JOIN categories cat ON cat.group_title = c.group_title WHERE c.enabled = 1`;

/**
 * One round trip: the simple query protocol runs the statements in order and answers each. A
 * reload after a change is what requests wait for, so it costs one trip to the server, not seven.
 */
const SNAPSHOT = ['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', VERSIONS, CHANNELS, ORIGINS, CATEGORIES, PLACEMENTS, 'COMMIT'].join(
  ';\n',
);

interface ChannelRow extends ChannelColumns {
  package_ids: number[];
}

type SnapshotResults = [
  pg.QueryResult,
  pg.QueryResult<{ lineup: string; access: string }>,
  pg.QueryResult<ChannelRow>,
  pg.QueryResult<OriginRecord>,
  pg.QueryResult<{ id: number; group_title: string }>,
  pg.QueryResult<{ channel_id: number; category_id: number; added: number | null }>,
  pg.QueryResult,
];

/**
 * Reads the lineup and its versions in one REPEATABLE READ snapshot on one connection, so that the
 * versions name exactly what was read: a change committed meanwhile shows in the next snapshot,
 * never half in this one.
 */
export async function readLineupSnapshot(pool: pg.Pool): Promise<LineupSnapshot> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const [, versions, channels, origins, categories, placements] = (await client.query(SNAPSHOT)) as unknown as SnapshotResults;
    const [version] = versions.rows;
    return {
      lineupVersion: version!.lineup,
      accessVersion: version!.access,
      channels: channels.rows.map((row) => channelOf(row, row.package_ids)),
      origins: origins.rows.map(originOf),
      categories: new Map(categories.rows.map((row) => [row.id, row.group_title])),
      placements: placementsOf(placements.rows.map((row): PlacementRow => [row.channel_id, row.category_id, row.added])),
    };
  } catch (error) {
    // A connection left inside a failed transaction must not go back to the pool.
    broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}
