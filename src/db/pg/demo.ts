import type pg from 'pg';
import { demoQueries, demoSeed, type FoundDemo, type RemovedDemo, removedOf } from '../seed.js';
import type { PostgresAdminSettings } from './admin-settings.js';
import { numbered } from './placeholders.js';
import type { SyncPostgresClient } from './sync-client.js';

/** The demo rows still as seeded (a database copied from SQLite may hold them), by SQLite's own queries. */
export async function findPostgresDemo(client: pg.ClientBase): Promise<FoundDemo> {
  const channels: FoundDemo['channels'] = [];
  for (const [sql, params] of demoQueries.channels) channels.push(...(await client.query(numbered(sql), [...params])).rows);
  const [sql, params] = demoQueries.subscriber;
  const { rows } = await client.query<{ id: number }>(numbered(sql), [...params]);
  return { channels, subscriberId: rows[0]?.id };
}

/**
 * `removeDemoLineup(db, { onlyWithDemoChannels: true })` on PostgreSQL, in the caller's
 * transaction: the demo channels and subscriber go, but nothing once the demo channels are gone.
 */
export async function removePostgresDemo(client: pg.ClientBase): Promise<RemovedDemo> {
  const demo = await findPostgresDemo(client);
  if (demo.channels.length === 0) return { channels: [], subscriber: undefined };
  await client.query('DELETE FROM channels WHERE id = ANY($1::bigint[])', [demo.channels.map((channel) => channel.id)]);
  if (demo.subscriberId !== undefined) await client.query('DELETE FROM subscribers WHERE id = $1', [demo.subscriberId]);
  return removedOf(demo);
}

/**
 * Taken by the first start's seed (seedPostgresDemoLineup) for its transaction, so that of nodes
 * started at once on an empty database one seeds, and the others then find it seeded.
 */
const SEED_LOCK = '7651302094212641797';

/**
 * seedDemoLineup (db/seed.ts) on PostgreSQL, by its statements, in the caller's transaction: on
 * the first start of an empty database, adds the demo channels and returns true, so that the
 * caller adds the demo subscriber in the same transaction. A database that holds data, or that
 * was seeded once, is left alone; a node that started with another waits for its seed, then
 * finds it done.
 */
export function seedPostgresDemoLineup(db: SyncPostgresClient, settings: PostgresAdminSettings): boolean {
  db.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK]);
  if (settings.get(demoSeed.setting) !== undefined) return false;
  const holdsData = db.query<{ holds: boolean }>(demoSeed.holdsData).rows[0]?.holds;
  settings.getOrCreate(demoSeed.setting, () => new Date().toISOString());
  if (holdsData) return false;
  for (const row of demoSeed.channels) db.query(numbered(demoSeed.insertChannel), row);
  return true;
}
