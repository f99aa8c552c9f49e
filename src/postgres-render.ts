import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';
import { adminKey, BUCKET_SECRET_SETTING, defaultOriginOf, etagInstanceOf } from './context.js';
import { PostgresAdminSettings } from './db/pg/admin-settings.js';
import { openPostgresPool } from './db/pg/connection.js';
import { PostgresLineupMirror } from './db/pg/lineup-mirror.js';
import { readLineupSnapshot } from './db/pg/lineup-snapshot.js';
import { PostgresSubscriberAccess } from './db/pg/subscriber-access-store.js';
import { LineupCache } from './playlist/lineup-cache.js';
import { PlaylistService } from './playlist/playlist-service.js';
import { connectMigrated } from './postgres-admin-parts.js';
import { SIGNING_SETTING, type Signer } from './signing-record.js';
import type { Clock } from './time.js';

/** What `lineup render` uses, on PostgreSQL; see `withPlaylists` (cli/command.ts). */
export interface PostgresPlaylists {
  signer: Signer;
  /** The database's SIGNING_SETTING: how the last node started on it signs. */
  signingRecord: string | undefined;
  playlists: Pick<PlaylistService, 'textFor'>;
  close(): Promise<void>;
}

/**
 * A node's playlist service as an admin command has it on PostgreSQL: the lineup and the
 * subscriber read by the readers a node uses (db/pg/lineup-snapshot.ts, subscriber-access-store.ts),
 * signed with the key and bucket secret the nodes share, never a new one (as openContext's
 * adminCommand). The schema and the settings are read over the admin commands' connection first.
 */
export async function openPostgresPlaylists(config: Config, clock: Clock): Promise<PostgresPlaylists> {
  const db = connectMigrated(config.dbPath, 'cli');
  let settings: { defaultKey: Signer['defaultKey']; bucketSecret: string; signingRecord: string | undefined };
  try {
    const stored = new PostgresAdminSettings(db);
    settings = {
      defaultKey: adminKey(config, stored),
      // Without the nodes' secret, a passing one: the salts then differ from a node's, the tokens do not.
      bucketSecret: stored.get(BUCKET_SECRET_SETTING) ?? randomBytes(32).toString('hex'),
      signingRecord: stored.get(SIGNING_SETTING),
    };
  } finally {
    db.close();
  }
  const { defaultKey, bucketSecret, signingRecord } = settings;
  const pool = openPostgresPool(config.dbPath, { max: 1 });
  try {
    const mirror = new PostgresLineupMirror(
      () => readLineupSnapshot(pool),
      () => undefined,
      () => {},
    );
    await mirror.load();
    const defaultOrigin = defaultOriginOf(config, defaultKey?.value);
    const lineup = new LineupCache(mirror, {
      defaultOrigin,
      epgUrl: config.epgUrl,
      linkMode: config.linkMode,
      publicUrl: config.publicUrl,
    });
    const subscribers = new PostgresSubscriberAccess(pool, { days: config.retiredKeyDays, clock });
    const playlists = new PlaylistService(lineup, subscribers, clock, {
      expiredStreamUrl: config.expiredStreamUrl,
      instance: etagInstanceOf(config, defaultKey?.value, bucketSecret),
      tokenBucket: { seconds: config.tokenBucket, secret: bucketSecret },
    });
    return { signer: { config, defaultKey }, signingRecord, playlists, close: () => pool.end() };
  } catch (error) {
    await pool.end();
    throw error;
  }
}
