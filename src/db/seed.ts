import type { Db } from './open.js';
import type { SettingsStore } from './settings-store.js';
import type { SqlSession } from './sql-session.js';

const SEEDED = 'seeded_at';

/** A small lineup that plays against any Flussonic with these stream names, for a first look. */
const DEMO_CHANNELS = [
  { stream: 'news', name: 'Demo News', number: 1, group: 'News' },
  { stream: 'sport', name: 'Demo Sport', number: 2, group: 'Sport' },
  { stream: 'movies', name: 'Demo Movies', number: 3, group: 'Movies' },
  { stream: 'kids/cartoons', name: 'Demo Cartoons', number: 4, group: 'Kids' },
];

/** The subscriber the first start creates beside the demo channels (see housekeeping.ts). */
export const DEMO_SUBSCRIBER = { username: 'demo', note: 'created by the first start' };

/**
 * The first start's seed, as statements that read the same on SQLite and PostgreSQL (`?`
 * placeholders): the setting that says a database was seeded once (or found holding data), the
 * test for data, and the demo channels' rows.
 */
export const demoSeed = {
  setting: SEEDED,
  holdsData: 'SELECT (EXISTS (SELECT 1 FROM channels) OR EXISTS (SELECT 1 FROM subscribers) OR EXISTS (SELECT 1 FROM origins)) AS holds',
  insertChannel: 'INSERT INTO channels (stream, name, number, group_title) VALUES (?, ?, ?, ?)',
  channels: DEMO_CHANNELS.map((channel) => [channel.stream, channel.name, channel.number, channel.group] as const),
};

/**
 * On the first start of an empty database, adds the demo channels and returns true so that the
 * caller creates the demo subscriber. A database that holds data, or that was seeded once
 * already (even if the operator since deleted the demo rows), is left alone.
 */
export function seedDemoLineup(db: Db, settings: SettingsStore): boolean {
  return db
    .transaction(() => {
      if (settings.get(demoSeed.setting) !== undefined) return false;
      const holdsData = db.prepare(demoSeed.holdsData).pluck().get();
      settings.getOrCreate(demoSeed.setting, () => new Date().toISOString());
      if (holdsData) return false;
      const insert = db.prepare(demoSeed.insertChannel);
      for (const row of demoSeed.channels) insert.run(...row);
      return true;
    })
    .immediate();
}

/** What `removeDemoLineup` took out: channel names, and the demo subscriber's name if it went too. */
export interface RemovedDemo {
  channels: string[];
  subscriber: string | undefined;
}

/**
 * The demo rows still as the first start made them. A demo channel that an operator renamed,
 * renumbered, put in a package or claimed by an import is theirs now, and so is a `demo`
 * subscriber whose note they changed: those are never taken for the demo. As queries that read
 * the same on SQLite and PostgreSQL (`?` placeholders), for either backend's reader.
 */
export const demoQueries = {
  channels: DEMO_CHANNELS.map(
    (demo) =>
      [
        `SELECT id, name FROM channels c
         WHERE origin IS NULL AND stream = ? AND name = ? AND number = ? AND group_title = ?
           AND logo = '' AND tvg_id = '' AND enabled = 1 AND catchup_days = 0 AND radio = 0
           AND NOT EXISTS (SELECT 1 FROM package_channels WHERE channel_id = c.id)
           AND NOT EXISTS (SELECT 1 FROM channel_imports WHERE channel_id = c.id)`,
        [demo.stream, demo.name, demo.number, demo.group],
      ] as const,
  ),
  subscriber: ['SELECT id FROM subscribers WHERE username = ? AND note = ?', [DEMO_SUBSCRIBER.username, DEMO_SUBSCRIBER.note]] as const,
};

/** The demo's rows, as `demoQueries` found them. */
export interface FoundDemo {
  channels: Array<{ id: number; name: string }>;
  subscriberId: number | undefined;
}

function findDemo(sql: SqlSession): FoundDemo {
  const channels = demoQueries.channels.flatMap(([text, params]) => sql.all<{ id: number; name: string }>(text, params));
  const [text, params] = demoQueries.subscriber;
  return { channels, subscriberId: sql.all<{ id: number }>(text, params)[0]?.id };
}

/** What removing `found` takes out, as `removeDemoLineup` reports it. */
export const removedOf = (found: FoundDemo): RemovedDemo => ({
  channels: found.channels.map((channel) => channel.name),
  subscriber: found.subscriberId === undefined ? undefined : DEMO_SUBSCRIBER.username,
});

/** The ids of the channels that are still recognisably the demo's. */
export function demoChannelIds(sql: SqlSession): number[] {
  return findDemo(sql).channels.map((channel) => channel.id);
}

/**
 * Removes the demo channels and the demo subscriber, those still recognisably the demo. With
 * `onlyWithDemoChannels` (the first real import or channel script), nothing goes once the demo
 * channels are gone, so that a demo subscriber the operator kept after deleting them stays. Runs
 * in the caller's transaction when there is one. The subscriber's URL then answers 410 Gone.
 */
export function removeDemoLineup(sql: SqlSession, { onlyWithDemoChannels = false } = {}): RemovedDemo {
  return sql.write((): RemovedDemo => {
    const demo = findDemo(sql);
    if (onlyWithDemoChannels && demo.channels.length === 0) return { channels: [], subscriber: undefined };
    for (const { id } of demo.channels) sql.run('DELETE FROM channels WHERE id = ?', [id]);
    if (demo.subscriberId !== undefined) sql.run('DELETE FROM subscribers WHERE id = ?', [demo.subscriberId]);
    return removedOf(demo);
  });
}
