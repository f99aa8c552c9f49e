// Builds a benchmark database with the service's own migrations: N channels and M subscribers.
import { hash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../dist/db/open.js';

export const SECURETOKEN_KEY = 'bench-securetoken-key';

/** A well-formed playlist key (24 URL-safe characters), deterministic so that runs compare. */
export function benchKey(index) {
  return `bench${String(index).padStart(19, '0')}`;
}

/** Realistic-looking rows: a 1,000-channel playlist comes out near 312 kB, the size of a real operator lineup. */
export function createFixture({ channels, subscribers }) {
  const dir = mkdtempSync(join(tmpdir(), 'lineup-bench-'));
  const dbPath = join(dir, 'lineup.db');
  const db = openDatabase(dbPath);
  db.transaction(() => {
    const channel = db.prepare('INSERT INTO channels (stream, name, number, group_title, logo, tvg_id) VALUES (?, ?, ?, ?, ?, ?)');
    for (let i = 1; i <= channels; i++) {
      channel.run(
        `live/channel-${i}`,
        `Channel ${i} HD`,
        i,
        `Group ${i % 20}`,
        `https://logos.example.net/channels/channel-${i}-logo-large.png`,
        `channel${i}.example`,
      );
    }
    const subscriber = db.prepare("INSERT INTO subscribers (username, key_hash, expires_at) VALUES (?, ?, datetime('now', '+30 days'))");
    for (let i = 0; i < subscribers; i++) subscriber.run(`user${i}`, hash('sha256', benchKey(i)));
    // The demo seed stays away: the database already holds data, and this marks it as seeded.
    db.prepare("INSERT INTO settings (name, value) VALUES ('seeded_at', 'bench')").run();
  }).immediate();
  db.close();
  return { dir, dbPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
