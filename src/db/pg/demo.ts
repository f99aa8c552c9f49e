import type pg from 'pg';
import { demoQueries, type FoundDemo, type RemovedDemo, removedOf } from '../seed.js';
import { numbered } from './placeholders.js';

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
