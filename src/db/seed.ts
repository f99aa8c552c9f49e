import type { Db } from './open.js';
import type { SettingsStore } from './settings-store.js';

const SEEDED = 'seeded_at';

/** A small lineup that plays against any Flussonic with these stream names, for a first look. */
const DEMO_CHANNELS = [
  { stream: 'news', name: 'Demo News', number: 1, group: 'News' },
  { stream: 'sport', name: 'Demo Sport', number: 2, group: 'Sport' },
  { stream: 'movies', name: 'Demo Movies', number: 3, group: 'Movies' },
  { stream: 'kids/cartoons', name: 'Demo Cartoons', number: 4, group: 'Kids' },
];

/**
 * On the first start of an empty database, adds the demo channels and returns true so that the
 * caller creates the demo subscriber. A database that holds data, or that was seeded once
 * already (even if the operator since deleted the demo rows), is left alone.
 */
export function seedDemoLineup(db: Db, settings: SettingsStore): boolean {
  return db
    .transaction(() => {
      if (settings.get(SEEDED) !== undefined) return false;
      const holdsData = db
        .prepare('SELECT EXISTS (SELECT 1 FROM channels) OR EXISTS (SELECT 1 FROM subscribers) OR EXISTS (SELECT 1 FROM origins)')
        .pluck()
        .get();
      settings.getOrCreate(SEEDED, () => new Date().toISOString());
      if (holdsData) return false;
      const insert = db.prepare('INSERT INTO channels (stream, name, number, group_title) VALUES (?, ?, ?, ?)');
      for (const channel of DEMO_CHANNELS) insert.run(channel.stream, channel.name, channel.number, channel.group);
      return true;
    })
    .immediate();
}
